/* This library through its C ABI: the measurement protocol of docs/performance.md, one JSON line.
 * Usage: c_client ENDPOINT CALLS            (the benchmark)
 *        c_client ENDPOINT CALLS soak       (CALLS calls, resident memory every tenth)
 *        c_client ENDPOINT CALLS trips MS   (round trips: cold, warm, then CALLS-1 more warm
 *                                            calls, a pause of MS ms, one call after it)
 * AWS_CA_BUNDLE names the CA of an https:// endpoint (the library reads it); BENCH_CONFIG, when
 * set, is more configuration keys appended to the JSON object (e.g. "proxy":"http://..."). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connect_contact.h"

static const char *REQUEST =
    "{\"InstanceId\":\"11111111-2222-3333-4444-555555555555\","
    "\"ContactId\":\"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\","
    "\"Name\":\"bench\",\"Description\":\"performance run\"}";

static connect_client *client;
static long calls;

static double clock_us(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double now_us(void) { return clock_us(CLOCK_MONOTONIC); }
/* Every thread of the process: a helper thread's work counts too. */
static double cpu_us(void) { return clock_us(CLOCK_PROCESS_CPUTIME_ID); }

static void call(void) {
  char *doc = NULL;
  connect_status s = connect_update_contact(client, REQUEST, &doc);
  if (s != CONNECT_STATUS_OK) {
    fprintf(stderr, "call failed: %s %s\n", connect_status_name(s), doc ? doc : "");
    exit(1);
  }
  connect_string_free(doc);
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
  (void)arg;
  for (long i = 0; i < calls; i++) call();
  return NULL;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  calls = atol(argv[2]);
  char config[1024];
  const char *extra = getenv("BENCH_CONFIG");
  snprintf(config, sizeof config,
           "{\"region\":\"us-east-1\",\"endpoint_url\":\"%s\",\"allow_http\":true,"
           "\"access_key_id\":\"AKIDEXAMPLE\","
           "\"secret_access_key\":\"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\"%s%s}",
           argv[1], extra ? "," : "", extra ? extra : "");
  double c0 = cpu_us();
  double t = now_us();
  if (connect_client_new(config, &client) != CONNECT_STATUS_OK) {
    fprintf(stderr, "client: %s\n", connect_last_error_message());
    return 1;
  }
  double construct = now_us() - t;
  double construct_cpu = cpu_us() - c0;
  /* A second client in the same process: what construction costs once warm. */
  connect_client *second = NULL;
  t = now_us();
  if (connect_client_new(config, &second) != CONNECT_STATUS_OK) return 1;
  double construct2 = now_us() - t;
  connect_client_free(second);
  if (argc > 4 && strcmp(argv[3], "trips") == 0) {
    /* Round trips through bench's delay proxy: each phase timed on its own. */
    double cold, warm, after_idle;
    t = now_us();
    call();
    cold = now_us() - t;
    t = now_us();
    call();
    warm = now_us() - t;
    for (long i = 1; i < calls; i++) call();
    struct timespec pause = {atol(argv[4]) / 1000, (atol(argv[4]) % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    t = now_us();
    call();
    after_idle = now_us() - t;
    printf("{\"cold_us\":%.0f,\"warm_us\":%.0f,\"after_idle_us\":%.0f}\n", cold, warm, after_idle);
    connect_client_free(client);
    return 0;
  }
  if (argc > 3 && strcmp(argv[3], "soak") == 0) {
    printf("{\"rss_kib\":[");
    for (long i = 1; i <= calls; i++) {
      call();
      if (i % (calls / 10) == 0) printf("%s%ld", i == calls / 10 ? "" : ",", status_kib("VmRSS:"));
    }
    printf("],\"peak_kib\":%ld}\n", status_kib("VmHWM:"));
    connect_client_free(client);
    return 0;
  }
  c0 = cpu_us();
  t = now_us();
  call();
  double first = now_us() - t;
  double first_cpu = cpu_us() - c0;
  for (long i = 0; i < calls / 10; i++) call();
  double *lat = malloc(sizeof(double) * calls);
  double t1 = now_us();
  for (long i = 0; i < calls; i++) {
    double s = now_us();
    call();
    lat[i] = now_us() - s;
  }
  double one = now_us() - t1;
  call(); /* the second thread's connection is opened outside the timing, as for the floor */
  pthread_t th[2];
  double t2 = now_us();
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, worker, NULL);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  double two = now_us() - t2;
  qsort(lat, calls, sizeof(double), cmp);
  printf("{\"construct_us\":%.1f,\"construct_cpu_us\":%.1f,\"construct2_us\":%.1f,"
         "\"first_us\":%.1f,\"first_cpu_us\":%.1f,\"median_us\":%.2f,\"p99_us\":%.2f,"
         "\"rps1\":%.0f,\"rps2\":%.0f,\"rss_kib\":%ld}\n",
         construct, construct_cpu, construct2, first, first_cpu, lat[calls / 2], lat[calls * 99 / 100], calls / one * 1e6,
         2 * calls / two * 1e6, status_kib("VmHWM:"));
  free(lat);
  connect_client_free(client);
  return 0;
}
