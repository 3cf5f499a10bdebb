/**
 * Complete escape sequences a terminal program writes: CSI (`ESC [ ... final`), OSC (ended by BEL
 * or ST), charset designation (`ESC ( B`) and the two-byte ESC forms. What is left is the text a
 * person would see appear, give or take cursor placement.
 */
const ESCAPE_SEQUENCES =
  /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()*+][0-9A-Za-z]|[0-9=>@-Z\\^_`a-z{|}~])/g;

/** `data` without its escape sequences (incomplete ones at the end are kept). */
export function stripEscapes(data: string): string {
  return data.replace(ESCAPE_SEQUENCES, '');
}
