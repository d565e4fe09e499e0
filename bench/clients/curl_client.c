/* libcurl with its own SigV4 signing (CURLOPT_AWS_SIGV4) as a benchmark client: the same
 * request and the measurement protocol of docs/performance.md, one JSON line. One easy handle per
 * thread, kept alive between calls (libcurl handles are not shared between threads).
 * Usage: curl_client ENDPOINT CALLS     (AWS_CA_BUNDLE names the CA of an https:// endpoint) */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *PATH =
    "/contacts/11111111-2222-3333-4444-555555555555/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
static const char *BODY = "{\"Name\":\"bench\",\"Description\":\"performance run\"}";

static char url[512];
static long calls;
static struct curl_slist *headers;

struct client {
  CURL *h;
  char body[4096];
  size_t have;
};

static double clock_us(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}
static double now_us(void) { return clock_us(CLOCK_MONOTONIC); }
static double cpu_us(void) { return clock_us(CLOCK_PROCESS_CPUTIME_ID); }

static size_t keep(char *data, size_t size, size_t n, void *arg) {
  struct client *c = arg;
  size_t len = size * n;
  if (c->have + len > sizeof c->body) return 0;
  memcpy(c->body + c->have, data, len);
  c->have += len;
  return len;
}

static void make(struct client *c) {
  const char *ca = getenv("AWS_CA_BUNDLE");
  c->h = curl_easy_init();
  curl_easy_setopt(c->h, CURLOPT_URL, url);
  curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, BODY);
  curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(BODY));
  curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c->h, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:connect");
  curl_easy_setopt(c->h, CURLOPT_USERPWD, "AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  curl_easy_setopt(c->h, CURLOPT_USERAGENT, "bench-curl");
  curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, keep);
  curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, 10000L);
  if (ca) curl_easy_setopt(c->h, CURLOPT_CAINFO, ca);
}

static void call(struct client *c) {
  long code = 0;
  c->have = 0;
  CURLcode rc = curl_easy_perform(c->h);
  curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
  if (rc != CURLE_OK || code != 200) {
    fprintf(stderr, "call failed: %s, HTTP %ld\n", curl_easy_strerror(rc), code);
    exit(1);
  }
}

static long status_kib(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = 0;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0) v = atol(line + n);
  if (f) fclose(f);
  return v;
}

static void *worker(void *arg) {
  for (long i = 0; i < calls; i++) call(arg);
  return NULL;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  calls = atol(argv[2]);
  snprintf(url, sizeof url, "%s%s", argv[1], PATH);
  static struct client one, other;
  double c0 = cpu_us();
  double t = now_us();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  headers = curl_slist_append(NULL, "content-type: application/json");
  make(&one);
  double construct = now_us() - t;
  double construct_cpu = cpu_us() - c0;
  c0 = cpu_us();
  t = now_us();
  call(&one);
  double first = now_us() - t;
  double first_cpu = cpu_us() - c0;
  for (long i = 0; i < calls / 10; i++) call(&one);
  double *lat = malloc(sizeof(double) * calls);
  double t1 = now_us();
  for (long i = 0; i < calls; i++) {
    double s = now_us();
    call(&one);
    lat[i] = now_us() - s;
  }
  double elapsed1 = now_us() - t1;
  make(&other);
  call(&other); /* the second thread's connection is opened outside the timing */
  pthread_t th[2];
  double t2 = now_us();
  pthread_create(&th[0], NULL, worker, &one);
  pthread_create(&th[1], NULL, worker, &other);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  double two = now_us() - t2;
  qsort(lat, calls, sizeof(double), cmp);
  printf("{\"construct_us\":%.1f,\"construct_cpu_us\":%.1f,\"first_us\":%.1f,\"first_cpu_us\":%.1f,"
         "\"median_us\":%.2f,\"p99_us\":%.2f,\"rps1\":%.0f,\"rps2\":%.0f,\"rss_kib\":%ld}\n",
         construct, construct_cpu, first, first_cpu, lat[calls / 2], lat[calls * 99 / 100],
         calls / elapsed1 * 1e6, 2 * calls / two * 1e6, status_kib("VmHWM:"));
  free(lat);
  curl_easy_cleanup(one.h);
  curl_easy_cleanup(other.h);
  curl_slist_free_all(headers);
  curl_global_cleanup();
  return 0;
}
