// zlib's inflate, for gzip-compressed IDX files (Debian: zlib1g-dev).
#include <zlib.h>
