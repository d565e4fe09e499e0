// Tests of include/connect_contact.hpp, driven by tests/it/cpp_wrapper.rs.
//
// argv[1]: URL of the scripted test server (127.0.0.1): InstanceId "error-<Code>-<status>"
// answers that error, "slow" stalls, anything else 200 with request id "req-<n>".
// Prints one line per failed check and a closing line "N passed, M failed".

// Network programs include <sys/socket.h>, whose connect() must not clash with the wrapper.
#include <sys/socket.h>

#include "connect_contact.hpp"
#include "connect_contact.hpp"  // included twice on purpose: the include guard holds

#include <chrono>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

std::string second_unit_request_json();

namespace {

int passed = 0, failed = 0;

void check(bool ok, const char* what, int line) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        std::printf("FAIL wrapper_test.cpp:%d: %s\n", line, what);
    }
}
#define CHECK(cond) check((cond), #cond, __LINE__)

using connect_contact::Client;
using connect_contact::Error;
using connect_contact::UpdateContactRequest;

static_assert(!std::is_copy_constructible_v<Client>, "Client is not copyable");
static_assert(!std::is_copy_assignable_v<Client>, "Client is not copy-assignable");
static_assert(std::is_nothrow_move_constructible_v<Client>, "Client moves without throwing");
static_assert(std::is_nothrow_move_assignable_v<Client>, "Client move-assigns without throwing");

std::string config_for(const std::string& url, const std::string& extra = "") {
    return "{\"region\":\"us-east-1\",\"endpoint_url\":" + connect_contact::json_quote(url) +
           ",\"access_key_id\":\"AKIDCPP\",\"secret_access_key\":\"secret\",\"max_attempts\":1" +
           (extra.empty() ? "" : "," + extra) + "}";
}

void test_quoting() {
    using connect_contact::json_quote;
    CHECK(json_quote("") == "\"\"");
    CHECK(json_quote("plain") == "\"plain\"");
    CHECK(json_quote("a\"b\\c/d") == "\"a\\\"b\\\\c/d\"");
    CHECK(json_quote("\b\f\n\r\t") == "\"\\b\\f\\n\\r\\t\"");
    CHECK(json_quote(std::string("\x01\x1f\x7f", 3)) == "\"\\u0001\\u001f\x7f\"");
    CHECK(json_quote(std::string("nul\0byte", 8)) == "\"nul\\u0000byte\"");
    CHECK(json_quote("caf\xc3\xa9 \xe2\x80\xa8") == "\"caf\xc3\xa9 \xe2\x80\xa8\"");
    UpdateContactRequest request("inst", "con\"tact");
    request.name("N").description("D").reference("ticket", "URL", "https://t/1").reference("doc", "ATTACHMENT", "a");
    request.reference("ticket", "URL", "https://t/2");
    CHECK(request.to_json() ==
          "{\"InstanceId\":\"inst\",\"ContactId\":\"con\\\"tact\",\"Name\":\"N\",\"Description\":\"D\","
          "\"References\":{\"ticket\":{\"Value\":\"https://t/2\",\"Type\":\"URL\"},"
          "\"doc\":{\"Value\":\"a\",\"Type\":\"ATTACHMENT\"}}}");
    {
        // Every member of the model has a builder, generated from it: the new AdditionalRecipients,
        // nested structures, open enum values.
        connect_contact::EmailAddressInfo jane;
        jane.email_address = "jane@example.com";
        jane.with_display_name("Jane \"J\" Doe");
        connect_contact::Reference voicemail;
        voicemail.with_reference_type("VOICEMAIL_RECORDING").with_status("DRAFTING");
        connect_contact::SegmentAttributeValue nested;
        nested.value_list = std::vector<connect_contact::SegmentAttributeValue>{
            connect_contact::SegmentAttributeValue{}.with_value_integer(-3)};
        UpdateContactRequest r("i", "c");
        r.additional_recipients(connect_contact::AdditionalRecipients{}.with_cc_email_addresses({jane}))
            .references("v", voicemail)
            .segment_attributes("s", nested)
            .system_endpoint(connect_contact::Endpoint{}.with_endpoint_type("A_FUTURE_TYPE"));
        CHECK(r.to_json() ==
              "{\"InstanceId\":\"i\",\"ContactId\":\"c\",\"References\":{\"v\":{\"Type\":\"VOICEMAIL_RECORDING\","
              "\"Status\":\"DRAFTING\"}},\"SegmentAttributes\":{\"s\":{\"ValueList\":[{\"ValueInteger\":-3}]}},"
              "\"SystemEndpoint\":{\"Type\":\"A_FUTURE_TYPE\"},\"AdditionalRecipients\":{\"CcEmailAddresses\":"
              "[{\"EmailAddress\":\"jane@example.com\",\"DisplayName\":\"Jane \\\"J\\\" Doe\"}]}}");
        CHECK(UpdateContactRequest("i", "c")
                  .additional_recipients(connect_contact::AdditionalRecipients{}.with_cc_email_addresses({}))
                  .to_json() == "{\"InstanceId\":\"i\",\"ContactId\":\"c\",\"AdditionalRecipients\":{\"CcEmailAddresses\":[]}}");
    }
    CHECK(UpdateContactRequest("i", "c").to_json() == "{\"InstanceId\":\"i\",\"ContactId\":\"c\"}");
    CHECK(second_unit_request_json() == "{\"InstanceId\":\"i\",\"ContactId\":\"c\",\"Name\":\"from the second unit\"}");
}

void test_document_reader() {
    connect_contact::detail::JsonReader reader(
        " {\"Other\":[1,{\"x\":\"}\"},true,null,-2.5e3],\"Error\":{\"Code\":\"X\",\"Message\":\"a \\\"q\\\" \\\\ \\u00e9 "
        "\\ud83d\\ude00\\n\"},\"ResponseMetadata\":{\"RequestId\":\"r-1\",\"HTTPStatusCode\":503}}");
    CHECK(reader.find({"Error", "Code"}).value_or("") == "X");
    CHECK(reader.find({"Error", "Message"}).value_or("") == "a \"q\" \\ \xc3\xa9 \xf0\x9f\x98\x80\n");
    CHECK(reader.find({"ResponseMetadata", "HTTPStatusCode"}).value_or("") == "503");
    CHECK(!reader.find({"Error", "Missing"}));
    CHECK(!reader.find({"Error"}));  // an object is not a scalar
    for (const char* bad : {"", "{", "{\"Error\":", "{\"Error\":{\"Code\":\"\\ud800\"}}", "{\"Error\":{\"Code\":\"x}}",
                            "[\"Error\"]", "{\"Error\":{\"Code\":\"\\q\"}}"}) {
        CHECK(!connect_contact::detail::JsonReader(bad).find({"Error", "Code"}));
    }
    std::string deep(1000, '[');
    CHECK(!connect_contact::detail::JsonReader("{\"a\":" + deep + ",\"Error\":{\"Code\":\"X\"}}").find({"Error", "Code"}));
    Error e = Error::from_document(CONNECT_STATUS_TRANSPORT, "not json", "fallback");
    CHECK(e.code() == "CONNECT_STATUS_TRANSPORT" && e.message() == "fallback" && e.http_status() == 0);
}

void test_blocking(const std::string& url) {
    Client client(config_for(url));
    std::string document = client.update_contact("{\"InstanceId\":\"ok\",\"ContactId\":\"c\",\"Name\":\"n\"}");
    CHECK(document.find("\"HTTPStatusCode\":200") != std::string::npos);
    // The tricky Name arrives intact; tests/it/cpp_wrapper.rs checks the body the server got.
    document = client.update_contact(
        UpdateContactRequest("builder", "c").name("q\"uote b\\ack\nline\ttab \x01 caf\xc3\xa9"));
    CHECK(document.find("RequestId") != std::string::npos);

    try {
        client.update_contact("{\"InstanceId\":\"error-ThrottlingException-429\",\"ContactId\":\"c\",\"Name\":\"n\"}");
        CHECK(!"a service error throws");
    } catch (const Error& e) {
        CHECK(e.status() == CONNECT_STATUS_THROTTLING);
        CHECK(std::string(e.status_name()) == "CONNECT_STATUS_THROTTLING");
        CHECK(e.code() == "ThrottlingException");
        CHECK(e.message() == "scripted message for ThrottlingException");
        CHECK(e.request_id().rfind("req-", 0) == 0);
        CHECK(e.http_status() == 429);
        CHECK(std::string(e.what()).find("scripted message") != std::string::npos);
    }
    try {
        client.update_contact("{\"InstanceId\":\"must-not-arrive\",\"ContactId\":\"c\",\"Nmae\":\"n\"}");
        CHECK(!"a validation error throws");
    } catch (const Error& e) {
        CHECK(e.status() == CONNECT_STATUS_VALIDATION);
        CHECK(e.code() == "CONNECT_STATUS_VALIDATION");
        CHECK(e.message().find("Nmae") != std::string::npos);
        CHECK(e.request_id().empty() && e.http_status() == 0);
    }

    auto result = client.update_contact("{\"InstanceId\":\"error-ResourceNotFoundException-404\",\"ContactId\":\"c\",\"Name\":\"n\"}",
                                        std::nothrow);
    CHECK(!result && !result.ok() && result.status() == CONNECT_STATUS_RESOURCE_NOT_FOUND);
    CHECK(result.message() == "scripted message for ResourceNotFoundException");
    CHECK(result.error().code() == "ResourceNotFoundException" && result.error().http_status() == 404);
    auto good = client.update_contact(UpdateContactRequest("ok", "c").name("n"), std::nothrow);
    CHECK(good.ok() && good.message().empty() && good.document().find("RequestId") != std::string::npos);
}

void test_construction_and_moves(const std::string& url) {
    try {
        Client bad("{\"regoin\":\"us-east-1\"}");
        CHECK(!"an unknown key throws");
    } catch (const Error& e) {
        CHECK(e.status() == CONNECT_STATUS_INVALID_CONFIG);
        CHECK(e.message().find("regoin") != std::string::npos);
    }
    Client a(config_for(url));
    Client b(std::move(a));
    CHECK(a.native_handle() == nullptr && b.native_handle() != nullptr);
    try {
        a.update_contact("{}");
        CHECK(!"a moved-from client throws");
    } catch (const Error& e) {
        CHECK(e.status() == CONNECT_STATUS_NULL_ARGUMENT);
    }
    Client c(config_for(url));
    c = std::move(b);  // c's old client is freed here
    CHECK(c.update_contact(UpdateContactRequest("ok", "c").name("n")).find("RequestId") != std::string::npos);
}

void test_async(const std::string& url) {
    Client client(config_for(url, "\"async_workers\":2"));
    std::vector<std::future<std::string>> futures;
    for (int i = 0; i < 200; ++i)
        futures.push_back(client.update_contact_async(UpdateContactRequest("async-cpp", "c").name("n")));
    int ok = 0;
    for (auto& f : futures) {
        if (f.wait_for(std::chrono::seconds(60)) == std::future_status::ready &&
            f.get().find("RequestId") != std::string::npos)
            ++ok;
    }
    CHECK(ok == 200);
    auto failing =
        client.update_contact_async("{\"InstanceId\":\"error-ConflictException-409\",\"ContactId\":\"c\",\"Name\":\"n\"}");
    try {
        failing.get();
        CHECK(!"the future throws");
    } catch (const Error& e) {
        CHECK(e.status() == CONNECT_STATUS_CONFLICT && e.code() == "ConflictException");
        CHECK(e.message() == "scripted message for ConflictException" && e.http_status() == 409);
    }
    try {
        (void)client.update_contact_async(std::string("{\"Name\":\"\xff\"}"));
        CHECK(!"invalid UTF-8 is refused at once");
    } catch (const Error& e) {
        CHECK(e.status() == CONNECT_STATUS_INVALID_UTF8);
    }
}

void test_destroy_with_pending_futures(const std::string& url) {
    std::vector<std::future<std::string>> futures;
    {
        Client client(config_for(url, "\"async_workers\":1,\"timeout_ms\":300"));
        for (int i = 0; i < 5; ++i)
            futures.push_back(client.update_contact_async(UpdateContactRequest("slow", "c").name("n")));
    }  // the destructor waits for the running call and cancels the rest
    int ready = 0, expected = 0;
    for (auto& f : futures) {
        if (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) continue;
        ++ready;
        try {
            f.get();
        } catch (const Error& e) {
            expected += e.status() == CONNECT_STATUS_TIMEOUT || e.status() == CONNECT_STATUS_CANCELLED;
        }
    }
    CHECK(ready == 5);
    CHECK(expected == 5);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s SERVER_URL\n", argv[0]);
        return 2;
    }
    const std::string url = argv[1];
    test_quoting();
    test_document_reader();
    test_blocking(url);
    test_construction_and_moves(url);
    test_async(url);
    test_destroy_with_pending_futures(url);
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
