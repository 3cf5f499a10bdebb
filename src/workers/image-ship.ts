import type Docker from 'dockerode';
import { errorMessage, OrchestraError } from '../common/errors.js';

/**
 * Putting the worker image on another engine (issue 14.4) the way `docker save | docker load`
 * does, through the two engines' APIs: the image is streamed from one to the other, never written
 * to this machine's disk, so it works for an engine that cannot pull (no registry, as here).
 */

/** Bytes between two progress lines. */
const PROGRESS_STEP_BYTES = 64 * 1024 * 1024;

/** What a ship did: `already` when the target had the very image (same id), else `shipped`. */
export interface ShipResult {
  action: 'already' | 'shipped';
  /** Bytes of the saved image sent (0 for `already`). */
  bytes: number;
  /** Wall time, seconds. */
  seconds: number;
}

/**
 * Sends image `tag` from engine `from` to engine `to`: `GET /images/{tag}/get` streamed into
 * `POST /images/load`. `onProgress` gets a line per 64 MiB sent and the engine's own lines.
 *
 * @throws OrchestraError IMAGE_MISSING when `from` lacks the image; IMAGE_BUILD_FAILED when the
 *   transfer or the load fails (with the engine's message)
 */
export async function shipImage(options: {
  from: Docker;
  to: Docker;
  tag: string;
  onProgress?: (line: string) => void;
}): Promise<ShipResult> {
  const started = Date.now();
  const source = await options.from
    .getImage(options.tag)
    .inspect()
    .catch((error: unknown) => {
      throw new OrchestraError(
        'IMAGE_MISSING',
        `${options.tag} is not on this machine's engine: ${errorMessage(error)}`,
        {
          hint: 'build it first: `orchestra image build`',
          cause: error,
        },
      );
    });
  const there = await options.to
    .getImage(options.tag)
    .inspect()
    .catch(() => undefined);
  if (there?.Id === source.Id) return { action: 'already', bytes: 0, seconds: (Date.now() - started) / 1000 };
  const total = source.Size ?? 0;
  const mb = (n: number) => `${Math.round(n / 1e6)} MB`;
  try {
    const saved = await options.from.getImage(options.tag).get();
    let bytes = 0;
    let next = PROGRESS_STEP_BYTES;
    saved.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes >= next) {
        next += PROGRESS_STEP_BYTES;
        options.onProgress?.(`sent ${mb(bytes)}${total ? ` of about ${mb(total)}` : ''}`);
      }
    });
    const loading = await options.to.loadImage(saved, { quiet: true });
    await new Promise<void>((resolve, reject) => {
      options.to.modem.followProgress(
        loading,
        (error: Error | null) => (error ? reject(error) : resolve()),
        (event: { stream?: string; error?: string; errorDetail?: { message?: string } }) => {
          if (event.error) reject(new Error(event.errorDetail?.message ?? event.error));
          else if (event.stream?.trim()) options.onProgress?.(event.stream.trim());
        },
      );
    });
    const loaded = await options.to.getImage(options.tag).inspect();
    if (loaded.Id !== source.Id)
      throw new Error(`the engine holds ${loaded.Id} under ${options.tag}, not ${source.Id}`);
    return { action: 'shipped', bytes, seconds: (Date.now() - started) / 1000 };
  } catch (error) {
    throw new OrchestraError('IMAGE_BUILD_FAILED', `shipping ${options.tag} failed: ${errorMessage(error)}`, {
      hint: 'check the host with `orchestra hosts`, then ship again (`orchestra image ship <host>`)',
      cause: error,
    });
  }
}
