/**
 * Rows the client's status bar takes at the bottom of the window: the server sizes panes to the
 * window less these rows, and the client draws its bar in them, so both must agree.
 */
export const STATUS_ROWS = 1;
