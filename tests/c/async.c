/*
 * Asynchronous calls from C, driven by tests/it/c_async.rs.
 *
 * argv[1]: URL of the scripted test server (127.0.0.1). It answers by InstanceId:
 *   "error-<Code>-<status>" -> that error; "slow" -> stalls; anything else -> 200.
 * argv[2]: calls per thread for the 8-thread test.
 * Prints one line per failed check and a closing line "N passed, M failed".
 */
#define _GNU_SOURCE /* dlsym(RTLD_NEXT) */
#include "connect_contact.h"
#include "check.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *server_url;

/* ---- the OS refusing a thread: this program's pthread_create stands in for libc's ----
 * The library's worker threads start through pthread_create; this definition in the program
 * is found first by the dynamic linker, and fails with EAGAIN (what the OS says at its thread
 * limit) while `refuse_threads` is set. Otherwise it passes the call on to libc's. */
static volatile int refuse_threads;

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
    static pthread_create_fn real;
    if (refuse_threads) return EAGAIN;
    if (real == NULL) {
        void *symbol = dlsym(RTLD_NEXT, "pthread_create");
        /* ISO C has no cast from object to function pointer; copy the bits. */
        memcpy(&real, &symbol, sizeof real);
    }
    return real(thread, attr, start, arg);
}


static connect_client *new_client(const char *extra) {
    char config[1024];
    connect_client *client = NULL;
    connect_status st;
    snprintf(config, sizeof config,
             "{\"region\":\"us-east-1\",\"endpoint_url\":\"%s\",\"access_key_id\":\"AKIDASYNC\","
             "\"secret_access_key\":\"secret\",\"max_attempts\":1%s%s}",
             server_url, extra[0] ? "," : "", extra);
    st = connect_client_new(config, &client);
    if (st != CONNECT_STATUS_OK)
        printf("client_new failed: %s %s\n", connect_status_name(st), connect_last_error_message());
    return client;
}

/* One lock and condition for all bookkeeping: callbacks run on worker threads. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;

/* Waits until *value >= want, at most `seconds`; returns whether it got there. */
static int wait_for(const int *value, int want, int seconds) {
    struct timespec deadline;
    int ok;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&lock);
    while (*value < want) {
        if (pthread_cond_timedwait(&changed, &lock, &deadline) == ETIMEDOUT) break;
    }
    ok = *value >= want;
    pthread_mutex_unlock(&lock);
    return ok;
}

static void bump(int *value) {
    pthread_mutex_lock(&lock);
    (*value)++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

/* ---- 8 threads, every callback exactly once ---- */

#define THREADS 8
static int calls_per_thread;
static int *hits;          /* one slot per call: how many times its callback ran */
static int completed;      /* callbacks so far */
static int completed_ok;   /* of which OK with an empty last error and a request id */

static void count_callback(connect_status status, const char *response_json, void *user_data) {
    int *slot = user_data;
    int good = status == CONNECT_STATUS_OK && strcmp(connect_last_error_message(), "") == 0 &&
               strstr(response_json, "\"RequestId\":\"req-") != NULL;
    pthread_mutex_lock(&lock);
    if (!good && completed - completed_ok < 3)
        printf("  not ok: %s %s [%s]\n", connect_status_name(status), response_json, connect_last_error_message());
    (*slot)++;
    completed++;
    completed_ok += good;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

struct submitter {
    const connect_client *client;
    int first;
    int accepted;
};

static void *submit_main(void *arg) {
    struct submitter *s = arg;
    int i;
    for (i = 0; i < calls_per_thread; i++) {
        if (connect_update_contact_async(s->client, "{\"InstanceId\":\"async-many\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                                         count_callback, &hits[s->first + i]) == CONNECT_STATUS_OK)
            s->accepted++;
    }
    return NULL;
}

static void test_many_threads(void) {
    int total = THREADS * calls_per_thread, i, once = 1, accepted = 0;
    pthread_t threads[THREADS];
    struct submitter subs[THREADS];
    char extra[64];
    connect_client *client;
    snprintf(extra, sizeof extra, "\"async_workers\":3,\"async_queue\":%d", total);
    client = new_client(extra);
    CHECK(client != NULL, "client created");
    if (client == NULL) return;
    hits = calloc((size_t)total, sizeof *hits);
    for (i = 0; i < THREADS; i++) {
        subs[i].client = client;
        subs[i].first = i * calls_per_thread;
        subs[i].accepted = 0;
        CHECK(pthread_create(&threads[i], NULL, submit_main, &subs[i]) == 0, "thread start");
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        accepted += subs[i].accepted;
    }
    CHECK(accepted == total, "every call accepted (the queue holds them all)");
    CHECK(wait_for(&completed, total, 300), "every callback arrived");
    connect_client_free(client);
    pthread_mutex_lock(&lock);
    for (i = 0; i < total; i++) once &= hits[i] == 1;
    CHECK(once, "every callback ran exactly once");
    CHECK(completed == total, "no extra callback after free");
    CHECK(completed_ok == total, "every call succeeded, with an empty last error and a request id");
    if (completed_ok != total) printf("  %d of %d ok\n", completed_ok, total);
    pthread_mutex_unlock(&lock);
    free(hits);
}

/* ---- outcomes through the callback, and synchronous refusals ---- */

struct outcome {
    int done;
    connect_status status;
    char document[1024];
    char message[512];
};

static void record_callback(connect_status status, const char *response_json, void *user_data) {
    struct outcome *o = user_data;
    /* Copy: the document and the message are only valid during the callback. */
    snprintf(o->document, sizeof o->document, "%s", response_json);
    snprintf(o->message, sizeof o->message, "%s", connect_last_error_message());
    o->status = status;
    bump(&o->done);
}

static void expect_async(connect_client *client, const char *request, connect_status want, const char *doc_part,
                         const char *message_part, const char *label) {
    struct outcome o;
    memset(&o, 0, sizeof o);
    CHECK(connect_update_contact_async(client, request, record_callback, &o) == CONNECT_STATUS_OK, label);
    CHECK(wait_for(&o.done, 1, 60), "callback arrived");
    pthread_mutex_lock(&lock);
    if (o.status != want || strstr(o.document, doc_part) == NULL || strstr(o.message, message_part) == NULL)
        printf("FAIL %s: got %s, document %s, message %s\n", label, connect_status_name(o.status), o.document,
               o.message);
    CHECK(o.status == want, label);
    CHECK(strstr(o.document, doc_part) != NULL, "document has the expected part");
    CHECK(strstr(o.message, message_part) != NULL, "last error inside the callback is this call's message");
    pthread_mutex_unlock(&lock);
}

static int unexpected; /* callbacks of refused calls: must stay 0 */

static void never_called(connect_status status, const char *response_json, void *user_data) {
    (void)status;
    (void)response_json;
    printf("FAIL a refused call's callback ran (%s)\n", (const char *)user_data);
    bump(&unexpected);
}

static void test_outcomes(void) {
    connect_client *client = new_client("");
    CHECK(client != NULL, "client created");
    if (client == NULL) return;
    expect_async(client, "{\"InstanceId\":\"ok\",\"ContactId\":\"c\",\"Name\":\"n\"}", CONNECT_STATUS_OK,
                 "\"HTTPStatusCode\":200", "", "success");
    expect_async(client, "{\"InstanceId\":\"error-ThrottlingException-429\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                 CONNECT_STATUS_THROTTLING, "\"Code\":\"ThrottlingException\"", "scripted message", "service error");
    expect_async(client, "{\"InstanceId\":\"must-not-arrive\",", CONNECT_STATUS_INVALID_JSON,
                 "CONNECT_STATUS_INVALID_JSON", "not valid JSON", "invalid JSON arrives at the callback");
    expect_async(client, "{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"Nmae\":\"x\"}",
                 CONNECT_STATUS_VALIDATION, "CONNECT_STATUS_VALIDATION", "Nmae", "validation arrives at the callback");

    CHECK(connect_update_contact_async(NULL, "{}", never_called, "null client") == CONNECT_STATUS_NULL_ARGUMENT,
          "NULL client");
    CHECK(connect_update_contact_async(client, NULL, never_called, "null request") == CONNECT_STATUS_NULL_ARGUMENT,
          "NULL request");
    CHECK(connect_update_contact_async(client, "{}", NULL, NULL) == CONNECT_STATUS_NULL_ARGUMENT, "NULL callback");
    CHECK(strcmp(connect_last_error_message(), "callback is NULL") == 0, "NULL argument named");
    CHECK(connect_update_contact_async(client, "{\"InstanceId\":\"must-not-arrive\",\"Name\":\"\xff\"}", never_called,
                                       "utf8") == CONNECT_STATUS_INVALID_UTF8,
          "invalid UTF-8 is refused at once");
    connect_client_free(client);
}

/* ---- a full queue, and free with calls queued and in flight ---- */

/* The first call's callback holds the only worker until the main thread says so. */
struct holder {
    const connect_client *client;
    int probe_until_cancelled; /* set before the call is submitted */
    int entered, release, done;
    connect_status status; /* the held call's own status */
    connect_status probe;  /* what a submission from inside the callback got at the end */
};

static void hold_callback(connect_status status, const char *response_json, void *user_data) {
    struct holder *h = user_data;
    int i;
    (void)response_json;
    h->status = status;
    bump(&h->entered);
    wait_for(&h->release, 1, 60);
    if (h->probe_until_cancelled) {
        /* Keep submitting until connect_client_free() has begun: QUEUE_FULL until then. */
        struct timespec ms = {0, 1000000};
        for (i = 0; i < 30000; i++) {
            h->probe = connect_update_contact_async(h->client, "{\"InstanceId\":\"probe\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                                                    never_called, "probe");
            if (h->probe != CONNECT_STATUS_QUEUE_FULL) break;
            nanosleep(&ms, NULL);
        }
    }
    bump(&h->done);
}

/* Occupies the client's single worker with a held call, then fills the queue with `n` calls
 * reporting to `queued` (InstanceId `instance`). */
static void hold_and_fill(connect_client *client, struct holder *h, int probe, struct outcome *queued, int n,
                          const char *instance) {
    char request[128];
    int i;
    memset(h, 0, sizeof *h);
    memset(queued, 0, sizeof *queued * (size_t)n);
    h->client = client;
    h->probe_until_cancelled = probe;
    CHECK(connect_update_contact_async(client, "{\"InstanceId\":\"held\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                                       hold_callback, h) == CONNECT_STATUS_OK,
          "held call accepted");
    CHECK(wait_for(&h->entered, 1, 60), "worker busy in the callback");
    snprintf(request, sizeof request, "{\"InstanceId\":\"%s\",\"ContactId\":\"c\",\"Name\":\"n\"}", instance);
    for (i = 0; i < n; i++)
        CHECK(connect_update_contact_async(client, request, record_callback, &queued[i]) == CONNECT_STATUS_OK, "queued");
}

static void test_queue_full(void) {
    struct holder h;
    struct outcome queued[2];
    connect_client *client = new_client("\"async_workers\":1,\"async_queue\":2");
    CHECK(client != NULL, "client created");
    if (client == NULL) return;
    hold_and_fill(client, &h, 0, queued, 2, "queued");
    CHECK(connect_update_contact_async(client, "{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                                       never_called, "full") == CONNECT_STATUS_QUEUE_FULL,
          "a full queue refuses at once");
    CHECK(strstr(connect_last_error_message(), "async_queue") != NULL, "message names the config key");
    bump(&h.release);
    CHECK(wait_for(&h.done, 1, 60), "held callback returned");
    CHECK(h.status == CONNECT_STATUS_OK, "the held call itself succeeded");
    CHECK(wait_for(&queued[0].done, 1, 60) && wait_for(&queued[1].done, 1, 60), "queued calls completed");
    CHECK(queued[0].status == CONNECT_STATUS_OK && queued[1].status == CONNECT_STATUS_OK, "queued calls succeeded");
    connect_client_free(client);
}

static void test_free_cancels_queued_calls(void) {
    struct holder h;
    struct outcome queued[3];
    connect_client *client = new_client("\"async_workers\":1,\"async_queue\":3");
    int i, cancelled = 0;
    CHECK(client != NULL, "client created");
    if (client == NULL) return;
    hold_and_fill(client, &h, 1, queued, 3, "must-not-arrive");
    /* The callback now probes until free begins; free waits for it and cancels the queue. */
    bump(&h.release);
    connect_client_free(client);
    /* connect_client_free has returned: every callback has run, so no waiting below. */
    pthread_mutex_lock(&lock);
    CHECK(h.done == 1 && h.status == CONNECT_STATUS_OK, "the running call finished before free returned");
    CHECK(h.probe == CONNECT_STATUS_CANCELLED, "submitting after free began gets CANCELLED");
    for (i = 0; i < 3; i++) {
        cancelled += queued[i].done == 1 && queued[i].status == CONNECT_STATUS_CANCELLED &&
                     strstr(queued[i].document, "CONNECT_STATUS_CANCELLED") != NULL &&
                     strstr(queued[i].message, "freed") != NULL;
    }
    CHECK(cancelled == 3, "every queued call completed with CANCELLED before free returned");
    pthread_mutex_unlock(&lock);
}

/* A loopback listener of this program's own, so it knows exactly which calls are in flight:
 * a call whose request it has read and not yet answered. */
static int listen_loopback(char *url, size_t size) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
        return -1;
    snprintf(url, size, "http://127.0.0.1:%d", ntohs(addr.sin_port));
    return fd;
}

/* Accepts one connection and reads one request's head and body (Content-Length). */
static int accept_request(int listener) {
    char buf[8192];
    size_t have = 0;
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) return -1;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        char *end, *length;
        if (n <= 0) break;
        have += (size_t)n;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end == NULL) continue;
        length = strstr(buf, "content-length: ");
        if (length == NULL) length = strstr(buf, "Content-Length: ");
        if (length == NULL || (size_t)(end + 4 - buf) + (size_t)atoi(length + 16) <= have) return fd;
    }
    close(fd);
    return -1;
}

static void answer_ok(int fd) {
    static const char reply[] =
        "HTTP/1.1 200 OK\r\nx-amzn-RequestId: in-flight\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
    CHECK(write(fd, reply, sizeof reply - 1) == (ssize_t)(sizeof reply - 1), "answer written");
    close(fd);
}

static void *free_main(void *client) {
    connect_client_free(client);
    return NULL;
}

static void test_free_with_calls_in_flight(void) {
    /* Two workers, two calls in flight at this program's own listener, three queued behind
     * them; connect_client_free starts on another thread while both requests wait for their
     * answers. The running calls must finish normally (OK, their answers arrive after free
     * began), the queued ones must be cancelled without being sent. */
    char url[64], config[256];
    struct holder running[2];
    struct outcome queued[3];
    connect_client *client = NULL;
    pthread_t freeing;
    int listener = listen_loopback(url, sizeof url), fds[2], i, cancelled = 0, third;
    CHECK(listener >= 0, "listener");
    if (listener < 0) return;
    snprintf(config, sizeof config,
             "{\"region\":\"us-east-1\",\"endpoint_url\":\"%s\",\"access_key_id\":\"AKIDASYNC\","
             "\"secret_access_key\":\"secret\",\"max_attempts\":1,\"timeout_ms\":60000,"
             "\"async_workers\":2,\"async_queue\":3}",
             url);
    CHECK(connect_client_new(config, &client) == CONNECT_STATUS_OK, "client created");
    if (client == NULL) return;
    memset(running, 0, sizeof running);
    memset(queued, 0, sizeof queued);
    for (i = 0; i < 2; i++) {
        /* Each running call's callback keeps probing (QUEUE_FULL: three queued) until free has
         * closed the client (CANCELLED), so its worker reaches the queue only after that. */
        running[i].client = client;
        running[i].probe_until_cancelled = 1;
        running[i].release = 1;
        CHECK(connect_update_contact_async(client, "{\"InstanceId\":\"running\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                                           hold_callback, &running[i]) == CONNECT_STATUS_OK,
              "running call accepted");
    }
    for (i = 0; i < 2; i++) {
        fds[i] = accept_request(listener);
        CHECK(fds[i] >= 0, "a running call's request arrived");
    }
    /* Both workers are now inside a call, waiting for an answer. */
    for (i = 0; i < 3; i++)
        CHECK(connect_update_contact_async(client, "{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                                           record_callback, &queued[i]) == CONNECT_STATUS_OK,
              "queued call accepted");
    CHECK(pthread_create(&freeing, NULL, free_main, client) == 0, "freeing thread");
    {
        /* Let free begin while both calls are still in flight (it waits for them either way). */
        struct timespec pause = {0, 200000000};
        nanosleep(&pause, NULL);
    }
    for (i = 0; i < 2; i++)
        if (fds[i] >= 0) answer_ok(fds[i]);
    pthread_join(freeing, NULL);
    /* connect_client_free has returned: every callback has run. */
    pthread_mutex_lock(&lock);
    for (i = 0; i < 2; i++) {
        CHECK(running[i].done == 1 && running[i].status == CONNECT_STATUS_OK,
              "a call in flight when free began finished normally (OK), not cancelled");
        CHECK(running[i].probe == CONNECT_STATUS_CANCELLED, "free had begun while it ran");
    }
    for (i = 0; i < 3; i++)
        cancelled += queued[i].done == 1 && queued[i].status == CONNECT_STATUS_CANCELLED;
    pthread_mutex_unlock(&lock);
    CHECK(cancelled == 3, "every queued call was cancelled");
    /* Nothing else connected: the cancelled calls were never sent. */
    fcntl(listener, F_SETFL, O_NONBLOCK);
    third = accept(listener, NULL, NULL);
    CHECK(third < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "no queued call reached the server");
    if (third >= 0) close(third);
    close(listener);
}

/* ---- connect_client_free from inside the client's own callback ---- */

struct self_free {
    connect_client *client;
    int release, done;
    connect_status status;
};

static void free_from_callback(connect_status status, const char *response_json, void *user_data) {
    struct self_free *f = user_data;
    (void)response_json;
    f->status = status;
    wait_for(&f->release, 1, 60);
    /* Frees the client this callback belongs to: cancels the queued call, cannot wait for
     * this worker, which ends once this callback returns. */
    connect_client_free(f->client);
    bump(&f->done);
}

static void test_free_from_own_callback(void) {
    struct self_free f;
    struct outcome queued;
    connect_client *client = new_client("\"async_workers\":1");
    CHECK(client != NULL, "client created");
    if (client == NULL) return;
    memset(&f, 0, sizeof f);
    memset(&queued, 0, sizeof queued);
    f.client = client;
    CHECK(connect_update_contact_async(client, "{\"InstanceId\":\"self-free\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                                       free_from_callback, &f) == CONNECT_STATUS_OK,
          "self-freeing call accepted");
    CHECK(connect_update_contact_async(client, "{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                                       record_callback, &queued) == CONNECT_STATUS_OK,
          "call queued behind it");
    bump(&f.release);
    CHECK(wait_for(&f.done, 1, 60), "connect_client_free returned inside the callback");
    CHECK(wait_for(&queued.done, 1, 60), "the queued call was called back");
    pthread_mutex_lock(&lock);
    CHECK(f.status == CONNECT_STATUS_OK, "the call itself succeeded");
    CHECK(queued.status == CONNECT_STATUS_CANCELLED && strstr(queued.document, "CONNECT_STATUS_CANCELLED") != NULL,
          "the queued call was cancelled");
    pthread_mutex_unlock(&lock);
}

/* ---- CONNECT_STATUS_THREAD_START ---- */

static void test_thread_start_refused(void) {
    connect_client *client = new_client("\"async_workers\":2");
    CHECK(client != NULL, "client created");
    if (client == NULL) return;
    refuse_threads = 1;
    CHECK(connect_update_contact_async(client, "{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                                       never_called, "no thread") == CONNECT_STATUS_THREAD_START,
          "the OS refusing every worker thread is THREAD_START, refused at once");
    CHECK(strstr(connect_last_error_message(), "thread") != NULL, "the message says what failed");
    refuse_threads = 0;
    /* Nothing was left half-started: the next call starts the workers and runs. */
    expect_async(client, "{\"InstanceId\":\"ok\",\"ContactId\":\"c\",\"Name\":\"n\"}", CONNECT_STATUS_OK,
                 "\"HTTPStatusCode\":200", "", "threads start once the OS allows them");
    connect_client_free(client);
}

static void test_sync_only_client(void) {
    /* A client that never makes an asynchronous call frees without any worker to stop. */
    connect_client *client = new_client("");
    CHECK(client != NULL, "client created");
    if (client != NULL)
        CHECK(connect_update_contact(client, "{\"InstanceId\":\"sync\",\"ContactId\":\"c\",\"Name\":\"n\"}", NULL) ==
                  CONNECT_STATUS_OK,
              "blocking call");
    connect_client_free(client);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SERVER_URL CALLS_PER_THREAD\n", argv[0]);
        return 2;
    }
    server_url = argv[1];
    calls_per_thread = atoi(argv[2]);
    test_sync_only_client();
    test_outcomes();
    test_queue_full();
    test_free_cancels_queued_calls();
    test_free_with_calls_in_flight();
    test_free_from_own_callback();
    test_thread_start_refused();
    test_many_threads();
    CHECK(unexpected == 0, "no refused call's callback ran");
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
