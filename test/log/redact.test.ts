import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  collectSecrets,
  isSecretKey,
  REDACTED,
  redactSecretKeys,
  secretValueRedactor,
} from '../../src/log/redact.js';

describe('isSecretKey', () => {
  const secret = [
    'apiKey',
    'api_key',
    'API_KEY',
    'x-api-key',
    'ANTHROPIC_API_KEY',
    'token',
    'authToken',
    'ANTHROPIC_AUTH_TOKEN',
    'refresh_token',
    'secret',
    'clientSecret',
    'password',
    'Authorization',
    'proxy-authorization',
  ];
  const plain = [
    'input_tokens',
    'cache_read_input_tokens',
    'tokenCount',
    'maxTokens',
    'key',
    'keys',
    'monkey',
    'task',
    '',
  ];
  for (const key of secret) it(`treats "${key}" as secret`, () => assert.equal(isSecretKey(key), true));
  for (const key of plain) it(`leaves "${key}" alone`, () => assert.equal(isSecretKey(key), false));
});

describe('redactSecretKeys', () => {
  it('copies plain data with secret keys replaced and leaves the input untouched', () => {
    const input = { a: { token: 't', list: [{ password: 'p', ok: 1 }] }, n: null, apiKey: undefined };
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const out = redactSecretKeys({ ...input, cyclic });
    assert.deepEqual(out.a, { token: REDACTED, list: [{ password: REDACTED, ok: 1 }] });
    assert.equal(out.apiKey, undefined, 'absent values stay absent');
    assert.deepEqual(out.cyclic, { name: 'loop', self: '[Circular]' });
    assert.equal(input.a.token, 't');
    const error = new Error('kept for the serializer');
    assert.equal(redactSecretKeys({ err: error }).err, error);
  });
});

describe('secret values', () => {
  it('collects the known env vars and extras, skipping empty and short values', () => {
    const env = {
      ANTHROPIC_API_KEY: 'a-long-enough-key',
      OPENAI_API_KEY: '',
      ANTHROPIC_AUTH_TOKEN: 'short',
      HOME: '/h',
    };
    assert.deepEqual(collectSecrets(['another-secret-value', 'abc'], env), [
      'another-secret-value',
      'a-long-enough-key',
    ]);
  });

  it('cuts secrets out of a JSON line, also in escaped form', () => {
    const secret = 'pa"ss\\word-123';
    const redact = secretValueRedactor([secret]);
    const line = JSON.stringify({ msg: `x ${secret} y`, key: 'sk-ant-oat01-AbC_d-9' });
    assert.deepEqual(JSON.parse(redact(line)), { msg: `x ${REDACTED} y`, key: REDACTED });
  });
});
