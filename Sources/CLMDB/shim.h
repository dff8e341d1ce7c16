// liblmdb from Debian's liblmdb-dev. AirlockCounters (issue B) is the only module that imports it.
#include <lmdb.h>
