/*
 * C harness for libconnect_contact, driven by tests/it/c_harness.rs.
 *
 * argv[1]: URL of the scripted test server (127.0.0.1). It answers by InstanceId:
 *   "error-<Code>-<status>" -> that error; "html-502" -> a load balancer's HTML page;
 *   "slow" -> stalls; "flaky-<n>" -> 503 the first time, then 200; "huge-body" -> 200 with a
 *   body over the 64 KiB limit; anything else -> 200.
 *   "must-not-arrive" is used by refused requests; the Rust side checks none arrived.
 * argv[2]: a URL where nothing listens.
 * argv[3]: a URL whose server closes every connection without reading it.
 * Prints one line per failed check and a closing line "N passed, M failed".
 */
#define _POSIX_C_SOURCE 200809L
#include "connect_contact.h"
#include "check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *server_url, *dead_url, *closing_url;

#define SECRET "CANARY-SECRET-KEY-4242"
#define TOKEN "CANARY-SESSION-TOKEN-4242"

static char *config_for(const char *url, const char *extra) {
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"region\":\"us-east-1\",\"endpoint_url\":\"%s\",\"access_key_id\":\"AKIDHARNESS\","
             "\"secret_access_key\":\"" SECRET "\",\"session_token\":\"" TOKEN "\"%s%s}",
             url, extra[0] ? "," : "", extra);
    return buf;
}

static connect_client *new_client(const char *url, const char *extra) {
    connect_client *client = NULL;
    connect_status st = connect_client_new(config_for(url, extra), &client);
    if (st != CONNECT_STATUS_OK) {
        printf("client_new failed: %s %s\n", connect_status_name(st), connect_last_error_message());
        return NULL;
    }
    return client;
}

/* No failure output may carry a secret or a sensitive value. */
static void check_no_leak(const char *text) {
    CHECK(text != NULL, "text present");
    if (text == NULL) return;
    CHECK(strstr(text, "CANARY") == NULL, "no secret, token, Name or Description in output");
}

/* Sends request_json; checks the status, and that the document and last error agree. */
static void expect(connect_client *client, const char *request_json, connect_status want, const char *doc_part,
                   const char *label) {
    char *doc = NULL;
    connect_status st = connect_update_contact(client, request_json, &doc);
    if (st != want) {
        printf("FAIL %s: got %s, want %s: %s\n", label, connect_status_name(st), connect_status_name(want),
               connect_last_error_message());
    }
    CHECK(st == want, label);
    CHECK(doc != NULL, "a response document is written");
    if (doc != NULL) {
        if (doc_part != NULL && strstr(doc, doc_part) == NULL) printf("  document: %s\n", doc);
        CHECK(doc_part == NULL || strstr(doc, doc_part) != NULL, "document has the expected part");
        check_no_leak(doc);
        if (st == CONNECT_STATUS_OK) {
            CHECK(strcmp(connect_last_error_message(), "") == 0, "last error is empty after success");
        } else {
            const char *msg = connect_last_error_message();
            CHECK(msg[0] != '\0', "failure has a message");
            CHECK(strstr(doc, "\"Error\"") != NULL, "failure document has Error");
            check_no_leak(msg);
        }
    }
    connect_string_free(doc);
}

static const char *FULL_REQUEST =
    "{\"InstanceId\":\"inst-1\",\"ContactId\":\"contact/with space%\","
    "\"Name\":\"Caller \\\"Q\\\" \\u2028\",\"Description\":\"d\","
    "\"References\":{\"ticket\":{\"Type\":\"URL\",\"Value\":\"https://t/1\",\"Status\":\"AVAILABLE\","
    "\"Arn\":\"arn:aws:connect:us-east-1:123456789012:x\",\"StatusReason\":\"ok\"}},"
    "\"SegmentAttributes\":{\"connect:Subtype\":{\"ValueString\":\"connect:Guide\"},"
    "\"n\":{\"ValueInteger\":7,\"ValueArn\":\"arn:x\",\"ValueList\":[{\"ValueMap\":{\"k\":{\"ValueString\":\"v\"}}}]}},"
    "\"QueueInfo\":{\"Id\":\"q-1\"},\"UserInfo\":{\"UserId\":\"agent-1\"},"
    "\"CustomerEndpoint\":{\"Type\":\"TELEPHONE_NUMBER\",\"Address\":\"+15555550100\"},"
    "\"SystemEndpoint\":{\"Type\":\"VOIP\",\"Address\":\"sip:cc@example.com\"}}";

static void test_success_and_metadata(connect_client *client) {
    expect(client, FULL_REQUEST, CONNECT_STATUS_OK, "\"HTTPStatusCode\":200", "every member of the model");
    expect(client, "{\"InstanceId\":\"i\",\"ContactId\":\"c\",\"Name\":\"n\"}", CONNECT_STATUS_OK,
           "\"RequestId\":\"req-", "request id reported");
    CHECK(connect_update_contact(client, "{\"InstanceId\":\"i\",\"ContactId\":\"c\",\"Name\":\"n\"}", NULL) ==
              CONNECT_STATUS_OK,
          "response_json_out may be NULL");
}

static void test_service_errors(connect_client *client) {
    static const struct {
        const char *code;
        int http;
        connect_status status;
    } cases[] = {
        {"AccessDeniedException", 403, CONNECT_STATUS_ACCESS_DENIED},
        {"ConflictException", 409, CONNECT_STATUS_CONFLICT},
        {"InternalServiceException", 500, CONNECT_STATUS_INTERNAL_SERVICE},
        {"InvalidActiveRegionException", 400, CONNECT_STATUS_INVALID_ACTIVE_REGION},
        {"InvalidParameterException", 400, CONNECT_STATUS_INVALID_PARAMETER},
        {"InvalidRequestException", 400, CONNECT_STATUS_INVALID_REQUEST},
        {"ResourceNotFoundException", 404, CONNECT_STATUS_RESOURCE_NOT_FOUND},
        {"ThrottlingException", 429, CONNECT_STATUS_THROTTLING},
        {"UnrecognizedClientException", 403, CONNECT_STATUS_SERVICE_ERROR},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[256], part[128];
        snprintf(req, sizeof req, "{\"InstanceId\":\"error-%s-%d\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                 cases[i].code, cases[i].http);
        snprintf(part, sizeof part, "\"Code\":\"%s\"", cases[i].code);
        expect(client, req, cases[i].status, part, cases[i].code);
        /* The message is the service's, and the same text as the document's Message. */
        CHECK(strstr(connect_last_error_message(), "scripted message for") != NULL, "service message kept");
    }
    expect(client, "{\"InstanceId\":\"html-502\",\"ContactId\":\"c\",\"Name\":\"n\"}", CONNECT_STATUS_SERVICE_ERROR,
           "\"Code\":\"502\"", "HTML 502 from a load balancer");
    CHECK(strstr(connect_last_error_message(), "Bad Gateway") != NULL, "reason phrase as message");
}

static void test_validation_refusals(connect_client *client) {
    static const struct {
        const char *json;
        connect_status status;
        const char *message_part;
    } cases[] = {
        {"{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"Nmae\":\"x\"}", CONNECT_STATUS_VALIDATION,
         "Unknown parameter in input: \"Nmae\", must be one of: InstanceId, ContactId, Name,"},
        {"{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"References\":{\"ticket\":{\"Type\":\"URL\",\"Arn\":\"short\"}}}",
         CONNECT_STATUS_VALIDATION, "Invalid length for parameter References.ticket.Arn, value: 5, valid min length: 20"},
        {"{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"AdditionalRecipients\":{\"CcEmailAddresses\":"
         "[{\"EmailAddress\":\"CANARY-EMAIL\",\"DisplayName\":\"CANARY-DISPLAY\"}]}}",
         CONNECT_STATUS_VALIDATION, "Invalid value for parameter AdditionalRecipients.CcEmailAddresses[0].EmailAddress: "
                                    "does not match the pattern"},
        {"{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"..\",\"Name\":\"n\"}", CONNECT_STATUS_VALIDATION,
         "Invalid value for parameter ContactId,"},
        {"{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\"}", CONNECT_STATUS_VALIDATION, "nothing to update"},
        {"{\"ContactId\":\"c\",\"Name\":\"n\"}", CONNECT_STATUS_VALIDATION, "Missing required parameter in input: \"InstanceId\""},
        {"{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"Name\":7}", CONNECT_STATUS_VALIDATION,
         "Invalid type for parameter Name, type: number, valid types: string"},
        {"{\"InstanceId\":\"must-not-arrive\",", CONNECT_STATUS_INVALID_JSON, "not valid JSON"},
        {"", CONNECT_STATUS_INVALID_JSON, "not valid JSON"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect(client, cases[i].json, cases[i].status, NULL, cases[i].message_part);
        if (strstr(connect_last_error_message(), cases[i].message_part) == NULL)
            printf("  message: %s\n", connect_last_error_message());
        CHECK(strstr(connect_last_error_message(), cases[i].message_part) != NULL, "message names field and rule");
    }
    {
        /* A Name of 1025 characters carrying canary text: refused, never echoed. */
        char *json = malloc(1025 * 6 + 128);
        size_t n;
        strcpy(json, "{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"Name\":\"");
        for (n = 0; n < 1025 / 5; n++) strcat(json, "CANARY");
        strcat(json, "\",\"Description\":\"CANARY-DESCRIPTION\"}");
        expect(client, json, CONNECT_STATUS_VALIDATION, "Invalid length for parameter Name, value: 1230, valid max length: 1024", "Name over the model's 1024");
        free(json);
    }
}

static void test_boundary(connect_client *client) {
    char *sentinel = (char *)"untouched";
    char *doc = sentinel;
    connect_client *out = NULL;
    CHECK(connect_update_contact(NULL, "{}", &doc) == CONNECT_STATUS_NULL_ARGUMENT, "NULL client");
    CHECK(doc == sentinel, "output untouched on NULL_ARGUMENT");
    CHECK(connect_update_contact(client, NULL, &doc) == CONNECT_STATUS_NULL_ARGUMENT, "NULL request");
    CHECK(doc == sentinel, "output untouched on NULL_ARGUMENT");
    CHECK(strstr(connect_last_error_message(), "request_json is NULL") != NULL, "NULL argument named");
    CHECK(connect_client_new("{}", NULL) == CONNECT_STATUS_NULL_ARGUMENT, "NULL client_out");
    /* A NULL out-pointer is refused inside the boundary like any NULL argument: a status and
     * a message naming it, nothing written, the process running. */
    CHECK(connect_client_config_json(client, NULL) == CONNECT_STATUS_NULL_ARGUMENT, "NULL json_out");
    CHECK(strstr(connect_last_error_message(), "json_out is NULL") != NULL, "NULL json_out named");
    CHECK(connect_client_config_json(NULL, &doc) == CONNECT_STATUS_NULL_ARGUMENT && doc == sentinel,
          "NULL client for config_json, output untouched");
    expect(client, "{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"Name\":\"\xff\xfe\"}",
           CONNECT_STATUS_INVALID_UTF8, "CONNECT_STATUS_INVALID_UTF8", "invalid UTF-8");
    CHECK(connect_client_new("{\"region\":", &out) == CONNECT_STATUS_INVALID_JSON && out == NULL, "bad config JSON");
    CHECK(connect_client_new("{\"regoin\":\"us-east-1\"}", &out) == CONNECT_STATUS_INVALID_CONFIG && out == NULL,
          "unknown config key");
    CHECK(strstr(connect_last_error_message(), "regoin") != NULL, "unknown key named");
    CHECK(connect_client_new("{\"region\":\"us-east-1\",\"profile\":\"p\"}", &out) == CONNECT_STATUS_INVALID_CONFIG,
          "profile not supported yet");
    CHECK(connect_client_new("{\"region\":\"evil.com/x\"}", &out) == CONNECT_STATUS_INVALID_CONFIG,
          "region must look like a region");
    CHECK(connect_client_new("{\"region\":\"us-east-1\",\"endpoint_url\":\"http://connect.example.com\"}", &out) ==
              CONNECT_STATUS_INVALID_CONFIG,
          "plain http to a non-loopback host");
    CHECK(connect_client_new(config_for(server_url, "\"max_attempts\":0"), &out) == CONNECT_STATUS_INVALID_CONFIG,
          "max_attempts >= 1");
    check_no_leak(connect_last_error_message());
    CHECK(strcmp(connect_status_name(CONNECT_STATUS_THROTTLING), "CONNECT_STATUS_THROTTLING") == 0, "status name");
    CHECK(strcmp(connect_status_name(12345), "CONNECT_STATUS_UNKNOWN") == 0, "unknown status name");
    CHECK(strlen(connect_version()) > 0, "version");
    connect_client_free(NULL);
    connect_string_free(NULL);
}

static void test_environment(void) {
    connect_client *client = NULL;
    CHECK(connect_client_new(NULL, &client) == CONNECT_STATUS_NO_REGION && client == NULL, "no region anywhere");
    CHECK(strstr(connect_last_error_message(), "AWS_REGION") != NULL, "message says where a region comes from");
    CHECK(connect_client_new("{\"region\":\"us-east-1\"}", &client) == CONNECT_STATUS_NO_CREDENTIALS, "no credentials");
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("AWS_ENDPOINT_URL_CONNECT", server_url, 1);
    CHECK(connect_client_new(NULL, &client) == CONNECT_STATUS_OK && client != NULL, "everything from the environment");
    expect(client, "{\"InstanceId\":\"env\",\"ContactId\":\"c\",\"Name\":\"n\"}", CONNECT_STATUS_OK, NULL,
           "client from environment sends");
    connect_client_free(client);
    unsetenv("AWS_REGION");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_ENDPOINT_URL_CONNECT");
}

/* The statuses no ordinary call produces: a failing credential source, an oversized answer,
 * and a panic inside the library (its test hook). */
static void test_rare_statuses(void) {
    connect_client *client = NULL;
    /* 202: web identity is configured (source 4), but its token file does not exist. STS is
     * pointed at the dead loopback URL, so nothing could leave the machine either way. */
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/harness", 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/connect-contact/token", 1);
    setenv("AWS_ENDPOINT_URL_STS", dead_url, 1);
    {
        char config[512];
        snprintf(config, sizeof config,
                 "{\"region\":\"us-east-1\",\"endpoint_url\":\"%s\",\"max_attempts\":1}", server_url);
        connect_status st = connect_client_new(config, &client);
        if (st == CONNECT_STATUS_OK) {
            expect(client, "{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                   CONNECT_STATUS_CREDENTIALS_PROVIDER, "CONNECT_STATUS_CREDENTIALS_PROVIDER",
                   "a failing credential source is CREDENTIALS_PROVIDER");
            CHECK(strstr(connect_last_error_message(), "token") != NULL, "the message names the token file");
            connect_client_free(client);
        } else {
            CHECK(st == CONNECT_STATUS_CREDENTIALS_PROVIDER, "a failing credential source is CREDENTIALS_PROVIDER");
        }
    }
    unsetenv("AWS_ROLE_ARN");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_ENDPOINT_URL_STS");

    /* 302: an answer larger than the library reads. */
    client = new_client(server_url, "\"max_attempts\":1");
    if (client) {
        expect(client, "{\"InstanceId\":\"huge-body\",\"ContactId\":\"c\",\"Name\":\"n\"}",
               CONNECT_STATUS_INVALID_RESPONSE, "\"HTTPStatusCode\":200", "an oversized body is INVALID_RESPONSE");
        CHECK(strstr(connect_last_error_message(), "larger than") != NULL, "the message says why");
    }
    connect_client_free(client);

    /* 900: a client built with CONNECT_CONTACT_TEST_PANIC=1 panics inside every call; the
     * panic is caught at the boundary and the process, and other clients, keep working. */
    setenv("CONNECT_CONTACT_TEST_PANIC", "1", 1);
    client = new_client(server_url, "\"max_attempts\":1");
    unsetenv("CONNECT_CONTACT_TEST_PANIC");
    if (client) {
        int i;
        for (i = 0; i < 2; i++)
            expect(client, "{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                   CONNECT_STATUS_PANIC, "\"Code\":\"CONNECT_STATUS_PANIC\"", "a caught panic is PANIC, every time");
        CHECK(strstr(connect_last_error_message(), "panic was caught") != NULL, "the message says a panic was caught");
    }
    connect_client_free(client);
    client = new_client(server_url, "\"max_attempts\":1");
    if (client)
        expect(client, "{\"InstanceId\":\"after-panic\",\"ContactId\":\"c\",\"Name\":\"n\"}", CONNECT_STATUS_OK,
               NULL, "the library works after a caught panic");
    CHECK(client != NULL, "clients built");
    connect_client_free(client);
}

static void test_transport_failures(void) {
    connect_client *dead = new_client(dead_url, "\"max_attempts\":1,\"connect_timeout_ms\":500");
    connect_client *slow = new_client(server_url, "\"max_attempts\":1,\"timeout_ms\":300");
    connect_client *retrying = new_client(server_url, "\"max_attempts\":3");
    if (dead) expect(dead, "{\"InstanceId\":\"i\",\"ContactId\":\"c\",\"Name\":\"n\"}", CONNECT_STATUS_TRANSPORT,
                     "CONNECT_STATUS_TRANSPORT", "nothing listening");
    if (slow) expect(slow, "{\"InstanceId\":\"slow\",\"ContactId\":\"c\",\"Name\":\"n\"}", CONNECT_STATUS_TIMEOUT,
                     "CONNECT_STATUS_TIMEOUT", "server never answers in time");
    if (retrying) expect(retrying, "{\"InstanceId\":\"flaky-1\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                         CONNECT_STATUS_OK, "\"RetryAttempts\":1", "503 then 200 is retried");
    CHECK(dead && slow && retrying, "clients built");
    connect_client_free(dead);
    connect_client_free(slow);
    connect_client_free(retrying);
}

#define THREADS 8
#define CALLS_PER_THREAD 25
static int thread_ok[THREADS];

static void *thread_main(void *arg) {
    const connect_client *client = *(const connect_client *const *)arg;
    int i, ok = 0;
    for (i = 0; i < CALLS_PER_THREAD; i++) {
        char *doc = NULL;
        connect_status st =
            connect_update_contact(client, "{\"InstanceId\":\"threads\",\"ContactId\":\"c\",\"Name\":\"n\"}", &doc);
        if (st == CONNECT_STATUS_OK && strcmp(connect_last_error_message(), "") == 0)
            ok++;
        else /* say why, for the failure report */
            printf("threads: call %d: %s %s\n", i, connect_status_name(st), connect_last_error_message());
        connect_string_free(doc);
    }
    return (void *)(size_t)ok;
}

static void test_threads(connect_client *client) {
    pthread_t threads[THREADS];
    int i, total = 0;
    for (i = 0; i < THREADS; i++) CHECK(pthread_create(&threads[i], NULL, thread_main, &client) == 0, "thread start");
    for (i = 0; i < THREADS; i++) {
        void *ret = NULL;
        pthread_join(threads[i], &ret);
        thread_ok[i] = (int)(size_t)ret;
        total += thread_ok[i];
    }
    CHECK(total == THREADS * CALLS_PER_THREAD, "8 threads share one client, every call succeeds");
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[32768];

static void collect_log(connect_log_level level, const char *message, void *user_data) {
    pthread_mutex_lock(&log_lock);
    if (level >= CONNECT_LOG_LEVEL_ERROR && strlen(log_text) + strlen(message) + 2 < sizeof log_text) {
        strcat(log_text, message);
        strcat(log_text, "\n");
    }
    (*(int *)user_data)++;
    pthread_mutex_unlock(&log_lock);
}

/* The server resets the connection while a 1 MiB body is still being written. With SIGPIPE at
 * its default disposition (this process never changes it), a library that wrote with plain
 * write() would kill the process here; the call must instead end in TRANSPORT, after retries. */
static void test_reset_while_writing(void) {
    size_t size = 1024 * 1024, prefix;
    char *json = malloc(size + 128);
    connect_client *client = new_client(closing_url, "\"max_attempts\":2,\"client_validation\":false,"
                                                     "\"new_retries_2026\":true");
    CHECK(json != NULL && client != NULL, "setup for the reset test");
    if (json == NULL || client == NULL) {
        free(json);
        connect_client_free(client);
        return;
    }
    strcpy(json, "{\"InstanceId\":\"reset\",\"ContactId\":\"c\",\"Description\":\"");
    prefix = strlen(json);
    memset(json + prefix, 'x', size);
    strcpy(json + prefix + size, "\"}");
    expect(client, json, CONNECT_STATUS_TRANSPORT, "\"RetryAttempts\":1", "reset while writing the body");
    free(json);
    connect_client_free(client);
}

static void test_log_callback(void) {
    static int lines;
    int before;
    connect_client *client = new_client(server_url, "\"max_attempts\":3,\"new_retries_2026\":true");
    const char *request = "{\"InstanceId\":\"flaky-2\",\"ContactId\":\"c\",\"Name\":\"CANARY-NAME\","
                          "\"Description\":\"CANARY-DESCRIPTION\",\"References\":{\"r\":{\"Type\":\"FUTURE_TYPE\"}},"
                          "\"AdditionalRecipients\":{\"CcEmailAddresses\":[{\"EmailAddress\":\"CANARY-EMAIL@example.com\","
                          "\"DisplayName\":\"CANARY-DISPLAY\"}]}}";
    CHECK(client != NULL, "client for logging");
    if (client == NULL) return;
    CHECK(connect_set_log_callback((connect_log_level)99, collect_log, &lines) == CONNECT_STATUS_INVALID_CONFIG,
          "unknown log level refused");
    CHECK(connect_set_log_callback(CONNECT_LOG_LEVEL_DEBUG, collect_log, &lines) == CONNECT_STATUS_OK, "callback set");
    expect(client, request, CONNECT_STATUS_OK, "\"RetryAttempts\":1", "503 then 200, logged");
    pthread_mutex_lock(&log_lock);
    if (strstr(log_text, "retry 1 in") == NULL) printf("  log: %s\n", log_text);
    CHECK(strstr(log_text, "POST /contacts/flaky-2/c attempt 1/3: CONNECT_STATUS_SERVICE_ERROR ServiceUnavailable "
                           "(HTTP 503") != NULL,
          "a line for the failed attempt");
    CHECK(strstr(log_text, "retry 1 in") != NULL, "the retry decision is logged");
    CHECK(strstr(log_text, "References.r.Type: a value the model's ReferenceType enum does not list; sent as given") !=
              NULL,
          "an unknown enum value is sent, with a debug line");
    CHECK(strstr(log_text, "attempt 2/3: HTTP 200") != NULL, "a line for the successful attempt");
    check_no_leak(log_text);
    pthread_mutex_unlock(&log_lock);
    CHECK(connect_set_log_callback(CONNECT_LOG_LEVEL_DEBUG, NULL, NULL) == CONNECT_STATUS_OK, "callback removed");
    before = lines;
    expect(client, "{\"InstanceId\":\"quiet\",\"ContactId\":\"c\",\"Name\":\"n\"}", CONNECT_STATUS_OK, NULL,
           "call after removal");
    CHECK(lines == before, "a removed callback is never called");
    connect_client_free(client);
}

int main(int argc, char **argv) {
    connect_client *client;
    if (argc < 4) {
        fprintf(stderr, "usage: %s SERVER_URL DEAD_URL\n", argv[0]);
        return 2;
    }
    server_url = argv[1];
    dead_url = argv[2];
    closing_url = argv[3];
    client = new_client(server_url, "\"max_attempts\":1");
    CHECK(client != NULL, "client created");
    if (client != NULL) {
        test_success_and_metadata(client);
        test_service_errors(client);
        test_validation_refusals(client);
        test_boundary(client);
        test_threads(client);
    }
    test_environment();
    test_rare_statuses();
    test_transport_failures();
    test_reset_while_writing();
    test_log_callback();
    connect_client_free(client);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
