/**
 * The server's name and version, as it introduces itself.
 *
 * @module
 */

/** Server name and version sent in `hello` (and named in alert mails). */
export const SERVER_NAME = "banter/0.1.0";
