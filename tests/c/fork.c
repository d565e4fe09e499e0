/*
 * A client across fork(), driven by tests/hardening.rs.
 *
 * argv[1]: URL of the test server (127.0.0.1), which answers 200 with request ids "req-<n>".
 * The parent makes an asynchronous and a blocking call (workers started, a connection
 * pooled), then forks. The child, on the inherited client: an asynchronous call completes
 * (its callback runs, within 10 s), a blocking call succeeds, connect_client_free returns
 * without a panic. The parent goes on as before. Prints "id <who> <RequestId>" for every
 * call (the server names the connection in it), failed checks, and "N passed, M failed".
 */
#define _POSIX_C_SOURCE 200809L
#include "connect_contact.h"
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int done;
static connect_status last_status;
static char last_id[128];

/* Copies the RequestId of a response document into `out` ("" when there is none). */
static void request_id(const char *response_json, char *out, size_t size) {
    const char *at = response_json ? strstr(response_json, "\"RequestId\":\"") : NULL;
    size_t n = 0;
    if (at) {
        at += strlen("\"RequestId\":\"");
        while (at[n] && at[n] != '"' && n + 1 < size) n++;
        memcpy(out, at, n);
    }
    out[n] = '\0';
}

static void on_done(connect_status status, const char *response_json, void *user_data) {
    (void)user_data;
    pthread_mutex_lock(&lock);
    request_id(response_json, last_id, sizeof last_id);
    last_status = status;
    done++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

/* Submits one asynchronous call and waits for its callback, at most 10 s. Returns the
 * callback's status, or -1 when submitting failed, or -2 when no callback came. */
static int async_call(connect_client *client, const char *request, const char *who) {
    struct timespec deadline;
    int want, got;
    connect_status st;
    pthread_mutex_lock(&lock);
    want = done + 1;
    pthread_mutex_unlock(&lock);
    st = connect_update_contact_async(client, request, on_done, NULL);
    if (st != CONNECT_STATUS_OK) {
        printf("  submit: %s %s\n", connect_status_name(st), connect_last_error_message());
        return -1;
    }
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&lock);
    while (done < want) {
        if (pthread_cond_timedwait(&changed, &lock, &deadline) == ETIMEDOUT) break;
    }
    got = done >= want ? (int)last_status : -2;
    if (got >= 0) printf("id %s %s\n", who, last_id);
    pthread_mutex_unlock(&lock);
    return got;
}

static connect_status blocking_call(connect_client *client, const char *request, const char *who) {
    char *response = NULL;
    char id[128];
    connect_status st = connect_update_contact(client, request, &response);
    if (st != CONNECT_STATUS_OK) printf("  blocking: %s %s\n", connect_status_name(st), response);
    request_id(response, id, sizeof id);
    printf("id %s %s\n", who, id);
    connect_string_free(response);
    return st;
}

int main(int argc, char **argv) {
    char config[512];
    connect_client *client = NULL;
    const char *parent_req = "{\"InstanceId\":\"fork-parent\",\"ContactId\":\"c\",\"Name\":\"n\"}";
    const char *child_req = "{\"InstanceId\":\"fork-child\",\"ContactId\":\"c\",\"Name\":\"n\"}";
    pid_t pid;
    int status = 0;
    if (argc < 2) return 2;
    snprintf(config, sizeof config,
             "{\"region\":\"us-east-1\",\"endpoint_url\":\"%s\",\"access_key_id\":\"AKIDFORK\","
             "\"secret_access_key\":\"secret\",\"max_attempts\":1,\"timeout_ms\":5000}",
             argv[1]);
    CHECK(connect_client_new(config, &client) == CONNECT_STATUS_OK, "client");
    if (!client) return 1;
    CHECK(async_call(client, parent_req, "parent") == CONNECT_STATUS_OK, "parent async before fork");
    CHECK(blocking_call(client, parent_req, "parent") == CONNECT_STATUS_OK, "parent blocking before fork");

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int child_failed;
        passed = failed = 0;
        CHECK(async_call(client, child_req, "child") == CONNECT_STATUS_OK, "child async");
        CHECK(async_call(client, child_req, "child") == CONNECT_STATUS_OK, "child async again");
        CHECK(blocking_call(client, child_req, "child") == CONNECT_STATUS_OK, "child blocking");
        connect_client_free(client);
        child_failed = failed;
        printf("child: %d checks passed\n", passed);
        fflush(stdout);
        _exit(child_failed ? 1 : 0);
    }
    CHECK(pid > 0, "fork");
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's checks passed");
    CHECK(async_call(client, parent_req, "after") == CONNECT_STATUS_OK, "parent async after fork");
    CHECK(blocking_call(client, parent_req, "after") == CONNECT_STATUS_OK, "parent blocking after fork");
    connect_client_free(client);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
