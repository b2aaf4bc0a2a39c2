// What `dbk serve` does unless told otherwise, apart from the server itself: the command line shows
// it in its help without loading the server and everything it serves.

export const DEFAULT_LISTEN = '127.0.0.1:8421';
