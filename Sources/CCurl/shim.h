// Typed wrappers around libcurl's variadic functions, which Swift cannot call.
// https://curl.se/libcurl/c/curl_easy_setopt.html
#ifndef CRAWLRUN_CCURL_SHIM_H
#define CRAWLRUN_CCURL_SHIM_H
#include <curl/curl.h>

typedef size_t (*crawlrun_data_cb)(char *, size_t, size_t, void *);
typedef int (*crawlrun_xferinfo_cb)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);

static inline CURLcode crawlrun_setopt_long(CURL *h, CURLoption o, long v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode crawlrun_setopt_off(CURL *h, CURLoption o, curl_off_t v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode crawlrun_setopt_string(CURL *h, CURLoption o, const char *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode crawlrun_setopt_pointer(CURL *h, CURLoption o, void *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode crawlrun_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode crawlrun_setopt_data_cb(CURL *h, CURLoption o, crawlrun_data_cb cb) {
    return curl_easy_setopt(h, o, cb);
}
static inline CURLcode crawlrun_setopt_xferinfo_cb(CURL *h, crawlrun_xferinfo_cb cb) {
    return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, cb);
}
static inline CURLcode crawlrun_getinfo_long(CURL *h, CURLINFO i, long *v) {
    return curl_easy_getinfo(h, i, v);
}
#endif
