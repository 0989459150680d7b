// glibc's allocator tuning (mallopt), for the storage of large tensors.
#include <malloc.h>
