/**
 * Flow-control watermarks both sides of the wire read (VS Code keeps its `FlowControlConstants` in
 * `common/` for the same reason): the client acknowledges output in {@link LOW_WATERMARK_CHARS}
 * batches and screens by bytes painted; the server pauses panes and discards output for clients
 * that fall behind by these numbers.
 */

/**
 * Flow control between a pane's process and the server's emulator, from VS Code's pty host
 * (`FlowControlConstants`): stop reading the process when more than 100,000 characters are written
 * to the emulator but not yet parsed, start again below 5,000.
 */
export const HIGH_WATERMARK_CHARS = 100_000;
/** See {@link HIGH_WATERMARK_CHARS}; also the batch a client acknowledges parsed output in. */
export const LOW_WATERMARK_CHARS = 5_000;

/**
 * How far a client may fall behind on one pane before the server stops sending it that pane's
 * output and, once it has caught up, sends a fresh snapshot instead (tmux's discard-and-redraw).
 * Ten times VS Code's 100,000-character high watermark: a client briefly busy drawing keeps every
 * byte; one that stopped reading costs the server at most this much per pane.
 */
export const CLIENT_DISCARD_CHARS = 1_000_000;

/** Socket bytes queued to a client beyond which it counts as stalled, whatever its acks say. */
export const CLIENT_DISCARD_BYTES = 8 * 1024 * 1024;

/**
 * A client's output budget, bytes: what the server may hold queued for it on its socket (written,
 * not yet taken by the kernel: `socket.writableLength`) when the next frame is due. A client over
 * it is dropped, never buffered without bound (issue 10: a command client sending requests and
 * never reading grew the server's heap 1.5 → 4.3 GB in 30 s, then "Reached heap limit" ended the
 * server and every pane). Twice {@link CLIENT_DISCARD_BYTES}, so a stalled attached client first
 * only misses pane output (discard-and-redraw) and is dropped only when layout events and
 * snapshots pile up past that too. A frame is written whole while the queue is under the budget,
 * so a client costs at most this plus one frame (`MAX_PAYLOAD_BYTES`, 32 MiB) of memory.
 */
export const CLIENT_OUTPUT_BUDGET_BYTES = 2 * CLIENT_DISCARD_BYTES;

/** A client caught up enough to be redrawn: at most this many characters unacknowledged. */
export const CLIENT_RESUME_CHARS = 5_000;

/**
 * Pane output is coalesced per pane into one OUTPUT frame per turn of the event loop, or sooner
 * once this many characters wait (issue 12: each ~2.5 KB PTY read was its own frame and write).
 */
export const OUTPUT_BATCH_CHARS = 64 * 1024;

/**
 * Screen bytes (SCREEN payloads) a client may have received and not yet acknowledged as painted.
 * A few full screens of a 300×100 terminal with colour in every run; past it the client gets no
 * new frame until it acknowledges, and then one frame with the latest state (discard-and-redraw).
 */
export const SCREEN_INFLIGHT_BYTES = 512 * 1024;
