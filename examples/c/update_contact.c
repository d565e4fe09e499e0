/*
 * connect-contact from C: one blocking UpdateContact, then one asynchronous one.
 *
 *   cc update_contact.c $(pkg-config --cflags --libs connect_contact) -lpthread -o update_contact
 *   AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \
 *     ./update_contact INSTANCE_ID CONTACT_ID
 *
 * Everything is configured from the environment (set AWS_ENDPOINT_URL_CONNECT to try it
 * against the local emulator).
 */
#define _POSIX_C_SOURCE 200809L
#include <connect_contact.h>

#include <pthread.h>
#include <stdio.h>

/* The asynchronous call reports here, on a worker thread; main waits for it. */
struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t done_changed;
    int done;
    connect_status status;
};

static void on_updated(connect_status status, const char *response_json, void *user_data) {
    struct waiter *w = user_data;
    /* response_json is only valid during the callback: print (or copy) it here. */
    printf("async: %s %s\n", connect_status_name(status), response_json);
    pthread_mutex_lock(&w->lock);
    w->status = status;
    w->done = 1;
    pthread_cond_signal(&w->done_changed);
    pthread_mutex_unlock(&w->lock);
}

int main(int argc, char **argv) {
    const char *instance = argc > 1 ? argv[1] : "example-instance";
    const char *contact = argc > 2 ? argv[2] : "example-contact";
    char request[512];
    connect_client *client = NULL;
    char *response = NULL;
    connect_status st;
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, CONNECT_STATUS_OK};

    printf("connect-contact %s\n", connect_version());
    /* NULL: region, endpoint and credentials from the environment. */
    st = connect_client_new(NULL, &client);
    if (st != CONNECT_STATUS_OK) {
        fprintf(stderr, "client: %s: %s\n", connect_status_name(st), connect_last_error_message());
        return 1;
    }

    /* The IDs here come from the command line: real code must JSON-escape them. */
    snprintf(request, sizeof request,
             "{\"InstanceId\":\"%s\",\"ContactId\":\"%s\",\"Name\":\"Billing callback\","
             "\"References\":{\"ticket\":{\"Type\":\"URL\",\"Value\":\"https://tickets.example/42\"}}}",
             instance, contact);

    /* Blocking: returns when the service has answered (retries included). */
    st = connect_update_contact(client, request, &response);
    printf("blocking: %s %s\n", connect_status_name(st), response);
    if (st != CONNECT_STATUS_OK) fprintf(stderr, "  %s\n", connect_last_error_message());
    connect_string_free(response);

    /* Asynchronous: returns at once; on_updated runs exactly once if this returns OK. */
    if (connect_update_contact_async(client, request, on_updated, &w) == CONNECT_STATUS_OK) {
        pthread_mutex_lock(&w.lock);
        while (!w.done) pthread_cond_wait(&w.done_changed, &w.lock);
        pthread_mutex_unlock(&w.lock);
    } else {
        fprintf(stderr, "async refused: %s\n", connect_last_error_message());
        w.status = CONNECT_STATUS_PANIC;
    }

    /* Waits for any call still running and cancels queued ones before freeing. */
    connect_client_free(client);
    return st == CONNECT_STATUS_OK && w.status == CONNECT_STATUS_OK ? 0 : 1;
}
