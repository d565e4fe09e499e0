// A second translation unit including the wrapper: every function in it must be inline, so
// linking this with wrapper_test.cpp proves there is no duplicate definition.
#include "connect_contact.hpp"
#include "connect_contact.hpp"

std::string second_unit_request_json() {
    return connect_contact::UpdateContactRequest("i", "c").name("from the second unit").to_json();
}
