/*
 * The quick start's C program: one UpdateContact through libconnect_contact.
 * Configuration comes from the environment, as with any AWS SDK (the quick start points
 * AWS_ENDPOINT_URL at the local emulator and sets its test credentials).
 */
#include "connect_contact.h"

#include <stdio.h>

int main(void) {
    connect_client *client = NULL;
    char *response = NULL;
    connect_status status;

    printf("libconnect_contact %s\n", connect_version());
    status = connect_client_new(NULL, &client); /* NULL: region, endpoint, keys from the environment */
    if (status != CONNECT_STATUS_OK) {
        fprintf(stderr, "connect_client_new: %s: %s\n", connect_status_name(status), connect_last_error_message());
        return 1;
    }
    status = connect_update_contact(
        client,
        "{\"InstanceId\": \"quickstart-instance\", \"ContactId\": \"call/2026-11-21/0001\","
        " \"Name\": \"Billing callback\", \"Description\": \"Customer asked about invoice 42\","
        " \"References\": {\"ticket\": {\"Type\": \"URL\", \"Value\": \"https://tickets.example.com/42\"}},"
        " \"SegmentAttributes\": {\"connect:Subtype\": {\"ValueString\": \"connect:ExternalAudio\"}},"
        " \"CustomerEndpoint\": {\"Type\": \"TELEPHONE_NUMBER\", \"Address\": \"+15555550100\"}}",
        &response);
    printf("C:      %s %s\n", connect_status_name(status), response);
    connect_string_free(response);

    /* A refused request: nothing is sent, and the message names the field and the rule. */
    status = connect_update_contact(
        client, "{\"InstanceId\": \"quickstart-instance\", \"ContactId\": \"c\", \"Nmae\": \"typo\"}", NULL);
    printf("C:      %s: %s\n", connect_status_name(status), connect_last_error_message());

    connect_client_free(client);
    return 0;
}
