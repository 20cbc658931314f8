#include <git2.h>

/* git_libgit2_opts is variadic, which Swift cannot call: one wrapper per option Plumb sets. */

/* Objects of `type` up to `size` bytes stay in libgit2's object cache. The default for trees and commits is 4 KiB,
   so a folder of a thousand files was re-read and re-inflated at every path lookup. */
static inline int plumb_git_set_cache_object_limit(git_object_t type, size_t size) {
    return git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, (int)type, size);
}
