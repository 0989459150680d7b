// OpenBLAS's CBLAS interface and its thread-count control (Debian: libopenblas-dev).
#include <cblas.h>
