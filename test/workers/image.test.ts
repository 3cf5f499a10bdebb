import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dockerClient, imagePresent } from '../../src/workers/docker-engine.js';
import {
  AGENT_BUNDLE,
  buildWorkerImage,
  IMAGE_VERSION_LABEL,
  workerImageStatus,
  workerImageVersion,
} from '../../src/workers/image.js';
import { runImageBuildCommand } from '../../src/workers/image-command.js';
import { dockerSkipReason, ensureWorkerImage } from './docker-support.js';

const skip = await dockerSkipReason();

/** A build context shaped like the package: Dockerfile.worker plus dist-worker/orchestra-agent.mjs. */
async function makeContext(dockerfile: string, bundle = 'console.log("agent")\n'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestra-'));
  await writeFile(path.join(dir, 'Dockerfile.worker'), dockerfile);
  await mkdir(path.join(dir, 'dist-worker'));
  await writeFile(path.join(dir, AGENT_BUNDLE), bundle);
  // Never sent: the context holds only the Dockerfile and the bundle.
  await writeFile(path.join(dir, 'secret.txt'), 'not for the engine');
  return dir;
}

describe('workerImageVersion', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test('hashes the Dockerfile and the bundle, and nothing else', async () => {
    const a = await makeContext('FROM scratch\n');
    const b = await makeContext('FROM scratch\n');
    const c = await makeContext('FROM scratch\n', 'console.log("changed")\n');
    const d = await makeContext('FROM scratch\nLABEL x=1\n');
    dirs.push(a, b, c, d);
    await writeFile(path.join(b, 'secret.txt'), 'different');
    const version = await workerImageVersion(a);
    assert.match(version, /^[0-9a-f]{16}$/);
    assert.equal(await workerImageVersion(b), version);
    assert.notEqual(await workerImageVersion(c), version);
    assert.notEqual(await workerImageVersion(d), version);
  });

  test('a missing bundle says how to make it', async () => {
    const dir = await makeContext('FROM scratch\n');
    dirs.push(dir);
    await rm(path.join(dir, AGENT_BUNDLE));
    await assert.rejects(workerImageVersion(dir), { message: /agent bundle/, hint: /npm run build/ });
  });
});

describe('buildWorkerImage', { skip }, () => {
  const tag = `orchestra-test-image:${process.pid}`;
  const dirs: string[] = [];
  const docker = dockerClient();

  before(async () => {
    if (!(await imagePresent('debian:bookworm-slim'))) {
      throw new Error('the base image debian:bookworm-slim is missing: run scripts/build-base-image.sh');
    }
  });

  after(async () => {
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test('builds, labels the version, streams progress, and tells a stale image', async () => {
    const context = await makeContext(
      [
        'FROM debian:bookworm-slim',
        'COPY dist-worker/orchestra-agent.mjs /opt/orchestra/orchestra-agent.mjs',
        'RUN ls / > /listing && test ! -e /secret.txt',
        'ARG IMAGE_VERSION=unknown',
        'LABEL orchestra.image-version="$IMAGE_VERSION"',
        '',
      ].join('\n'),
    );
    dirs.push(context);
    const lines: string[] = [];
    const { id, version } = await buildWorkerImage({ tag, context, onProgress: (line) => lines.push(line) });
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(version, await workerImageVersion(context));
    assert.ok(
      lines.some((l) => /^Step 1\/\d+ : FROM debian:bookworm-slim/.test(l)),
      lines.join('\n'),
    );
    const info = await docker.getImage(tag).inspect();
    assert.equal(info.Config.Labels?.[IMAGE_VERSION_LABEL], version);

    const status = await workerImageStatus(tag, { context });
    assert.equal(status.present, true);
    assert.equal(status.current, true);
    assert.equal(status.version, version);
    assert.ok((status.sizeBytes ?? 0) > 1e6);

    await writeFile(path.join(context, AGENT_BUNDLE), 'console.log("newer agent")\n');
    const stale = await workerImageStatus(tag, { context });
    assert.equal(stale.present, true);
    assert.equal(stale.current, false);
    assert.notEqual(stale.expected, stale.version);

    assert.deepEqual(await workerImageStatus('orchestra-no-such-image:none', { context }), {
      present: false,
      current: false,
      expected: stale.expected,
    });
  });

  test("a failing step is an error carrying that step's output", async () => {
    const context = await makeContext(
      [
        'FROM debian:bookworm-slim',
        'RUN echo output-of-an-earlier-step',
        'RUN echo output-of-the-failing-step && echo on-stderr >&2 && exit 3',
        '',
      ].join('\n'),
    );
    dirs.push(context);
    const lines: string[] = [];
    const error = await buildWorkerImage({
      tag: `${tag}-fail`,
      context,
      onProgress: (l) => lines.push(l),
    }).then(
      () => assert.fail('the build should fail'),
      (e: unknown) => e as { code: string; message: string },
    );
    // The last step that succeeded is left as an untagged image: this test's debris. Only an
    // untagged one is removed (the first layer is the tagged base image).
    const last = lines.flatMap((l) => /^ ---> ([0-9a-f]{12})$/.exec(l)?.[1] ?? []).at(-1);
    const leftover = last
      ? await docker
          .getImage(last)
          .inspect()
          .catch(() => undefined)
      : undefined;
    if (leftover && (leftover.RepoTags ?? []).length === 0)
      await docker
        .getImage(leftover.Id)
        .remove()
        .catch(() => undefined);
    assert.equal(error.code, 'IMAGE_BUILD_FAILED');
    assert.match(error.message, /returned a non-zero code: 3/);
    assert.match(error.message, /output-of-the-failing-step/);
    assert.doesNotMatch(error.message, /output-of-an-earlier-step/);
    assert.match(error.message, /\non-stderr\n/);
    assert.doesNotMatch(error.message, /\x1b/, 'no colour codes from the builder');
  });

  test('`orchestra image build` builds the real Dockerfile.worker and reports id, version, size and time', async () => {
    await ensureWorkerImage();
    const cliTag = `${tag}-cli`;
    const out: string[] = [];
    const err: string[] = [];
    try {
      await runImageBuildCommand(
        { tag: cliTag },
        {
          cwd: os.tmpdir(),
          env: process.env,
          output: { out: (l) => out.push(l), err: (l) => err.push(l) },
          readStdin: async () => '',
        },
      );
      assert.match(
        out.join('\n'),
        new RegExp(`^built ${cliTag} \\([0-9a-f]{12}, version [0-9a-f]{16}, \\d+ MB\\) in \\d+\\.\\d s$`),
      );
      assert.ok(
        err.some((l) => l.startsWith('Step 1/')),
        'build lines go to stderr',
      );
      const status = await workerImageStatus(cliTag);
      assert.equal(status.current, true);
      const info = await docker.getImage(cliTag).inspect();
      assert.deepEqual(info.Config.Entrypoint, ['/usr/bin/tini', '--']);
      assert.equal(info.Config.User, 'agent');
    } finally {
      // Untags only: the layers are the worker image's.
      await docker
        .getImage(cliTag)
        .remove()
        .catch(() => undefined);
    }
  });
});
