/* This library through its C ABI: the measurement protocol of docs/performance.md, one JSON line.
 * Usage: c_client ENDPOINT CALLS            (the benchmark)
 *        c_client ENDPOINT CALLS soak       (CALLS calls, resident memory every tenth) */
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

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

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
  char config[512];
  snprintf(config, sizeof config,
           "{\"region\":\"us-east-1\",\"endpoint_url\":\"%s\",\"allow_http\":true,"
           "\"access_key_id\":\"AKIDEXAMPLE\","
           "\"secret_access_key\":\"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\"}",
           argv[1]);
  double t = now_us();
  if (connect_client_new(config, &client) != CONNECT_STATUS_OK) {
    fprintf(stderr, "client: %s\n", connect_last_error_message());
    return 1;
  }
  double construct = now_us() - t;
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
  t = now_us();
  call();
  double first = now_us() - t;
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
  printf("{\"construct_us\":%.1f,\"first_us\":%.1f,\"median_us\":%.2f,\"p99_us\":%.2f,"
         "\"rps1\":%.0f,\"rps2\":%.0f,\"rss_kib\":%ld}\n",
         construct, first, lat[calls / 2], lat[calls * 99 / 100], calls / one * 1e6,
         2 * calls / two * 1e6, status_kib("VmHWM:"));
  free(lat);
  connect_client_free(client);
  return 0;
}
