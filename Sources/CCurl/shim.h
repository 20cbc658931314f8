#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed
// wrapper per argument kind that Plumb passes.
static inline CURLcode plumb_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode plumb_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode plumb_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode plumb_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
typedef size_t (*plumb_curl_data_callback)(char *buffer, size_t size, size_t count, void *context);
static inline CURLcode plumb_curl_setopt_callback(CURL *handle, CURLoption option, plumb_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode plumb_curl_response_code(CURL *handle, long *code) {
    return curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, code);
}
// CURLAUTH_* are macros with casts, which Swift does not import.
static const long plumb_curlauth_basic = (long)CURLAUTH_BASIC;
static const long plumb_curlauth_bearer = (long)CURLAUTH_BEARER;
