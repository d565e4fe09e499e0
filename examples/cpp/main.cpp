// connect-contact from C++17: the header-only wrapper over the C API.
//
// Configured from the environment (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, and
// AWS_ENDPOINT_URL_CONNECT to try it against the local emulator).
#include <connect_contact.hpp>

#include <future>
#include <iostream>

int main(int argc, char** argv) {
    const std::string instance = argc > 1 ? argv[1] : "example-instance";
    const std::string contact = argc > 2 ? argv[2] : "example-contact";
    try {
        connect_contact::Client client;  // "" config: everything from the environment

        // The builder escapes the strings, so any text is safe here.
        auto request = connect_contact::UpdateContactRequest(instance, contact)
                           .name("Billing callback")
                           .reference("ticket", "URL", "https://tickets.example/42");

        // Blocking; throws connect_contact::Error on failure.
        std::cout << "blocking: " << client.update_contact(request) << "\n";

        // Without exceptions.
        connect_contact::Result result = client.update_contact(request, std::nothrow);
        if (!result) std::cerr << "nothrow: " << result.error().what() << "\n";

        // Asynchronous: runs on the client's worker threads; get() throws on failure.
        std::future<std::string> pending = client.update_contact_async(request);
        std::cout << "async: " << pending.get() << "\n";
        return result ? 0 : 1;
    } catch (const connect_contact::Error& e) {
        std::cerr << e.status_name() << " " << e.code() << ": " << e.message();
        if (!e.request_id().empty()) std::cerr << " (request " << e.request_id() << ", HTTP " << e.http_status() << ")";
        std::cerr << "\n";
        return 1;
    }
}
