/*
 * connect-contact for C++17: a header-only wrapper over connect_contact.h.
 *
 *   connect_contact::Client client(R"({"region": "us-east-1"})");
 *   client.update_contact(connect_contact::UpdateContactRequest("instance-id", "contact-id").name("Callback"));
 *
 * - connect_contact::Client owns a connect_client: movable, not copyable, freed by its destructor.
 * - update_contact(...) returns the response document or throws connect_contact::Error (status, code,
 *   message, request id, HTTP status); update_contact(..., std::nothrow) returns a
 *   connect_contact::Result instead (it throws only std::bad_alloc).
 * - update_contact_async(...) returns a std::future<std::string>; its get() throws
 *   connect_contact::Error on failure. Destroying the Client completes every pending future (calls
 *   not yet started fail with CONNECT_STATUS_CANCELLED).
 *
 * Everything here is inline: include it from any number of translation units.
 *
 * The namespace is connect_contact, not connect: a namespace named connect cannot coexist
 * with POSIX connect() from <sys/socket.h>, which nearly every network program includes.
 */
#ifndef CONNECT_CONTACT_HPP
#define CONNECT_CONTACT_HPP

#include "connect_contact.h"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace connect_contact {

/* ---- JSON: quoting for requests, and reading the library's own response documents ---- */

/** `text` as a JSON string literal, quotes included. Bytes >= 0x80 pass through unchanged
 *  (the library refuses invalid UTF-8 with CONNECT_STATUS_INVALID_UTF8). */
inline std::string json_quote(std::string_view text) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += "\\u00";
                    out += hex[static_cast<unsigned char>(c) >> 4];
                    out += hex[static_cast<unsigned char>(c) & 0xF];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
}

namespace detail {

/* A strict reader of just enough JSON to find one scalar by its path of object keys.
 * Malformed input, or input nested deeper than kMaxDepth, finds nothing. */
class JsonReader {
public:
    explicit JsonReader(std::string_view text) : s_(text) {}

    /* The value at `path`: a string decoded to UTF-8, or a number/literal as written. */
    std::optional<std::string> find(const std::vector<std::string_view>& path) {
        pos_ = 0;
        std::string out;
        if (find_at(path, 0, 0, out)) return out;
        return std::nullopt;
    }

private:
    static constexpr int kMaxDepth = 64;
    std::string_view s_;
    std::size_t pos_ = 0;

    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t'))
            ++pos_;
    }

    bool eat(char c) {
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    bool hex4(std::uint32_t& value) {
        if (s_.size() - pos_ < 4) return false;
        value = 0;
        for (int i = 0; i < 4; ++i) {
            char c = s_[pos_++];
            value <<= 4;
            if (c >= '0' && c <= '9') value |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') value |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') value |= static_cast<std::uint32_t>(c - 'A' + 10);
            else return false;
        }
        return true;
    }

    static void append_utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    /* A string literal at the cursor, decoded into `out`. */
    bool string(std::string& out) {
        if (!eat('"')) return false;
        out.clear();
        while (pos_ < s_.size()) {
            char c = s_[pos_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) return false;
            switch (s_[pos_++]) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    std::uint32_t cp = 0;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp < 0xDC00) {
                        /* A high surrogate must be followed by a low one. */
                        std::uint32_t low = 0;
                        if (s_.substr(pos_, 2) != "\\u") return false;
                        pos_ += 2;
                        if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return false;
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: return false;
            }
        }
        return false;
    }

    /* A number or literal at the cursor, as written. */
    bool scalar(std::string& out) {
        skip_ws();
        std::size_t start = pos_;
        while (pos_ < s_.size()) {
            char c = s_[pos_];
            bool token = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' || c == '.' ||
                         c == 'E';
            if (!token) break;
            ++pos_;
        }
        out.assign(s_.substr(start, pos_ - start));
        return pos_ > start;
    }

    /* Any value at the cursor, discarded. */
    bool skip(int depth) {
        if (depth > kMaxDepth) return false;
        skip_ws();
        if (pos_ >= s_.size()) return false;
        std::string scratch;
        char c = s_[pos_];
        if (c == '"') return string(scratch);
        if (c == '{' || c == '[') {
            char close = c == '{' ? '}' : ']';
            ++pos_;
            if (eat(close)) return true;
            do {
                if (c == '{' && !(string(scratch) && eat(':'))) return false;
                if (!skip(depth + 1)) return false;
            } while (eat(','));
            return eat(close);
        }
        return scalar(scratch);
    }

    bool find_at(const std::vector<std::string_view>& path, std::size_t index, int depth, std::string& out) {
        if (depth > kMaxDepth) return false;
        skip_ws();
        if (index == path.size()) {
            if (pos_ < s_.size() && s_[pos_] == '"') return string(out);
            if (pos_ < s_.size() && (s_[pos_] == '{' || s_[pos_] == '[')) return false;
            return scalar(out);
        }
        if (!eat('{')) return false;
        if (eat('}')) return false;
        std::string key;
        do {
            if (!(string(key) && eat(':'))) return false;
            if (key == path[index]) return find_at(path, index + 1, depth + 1, out);
            if (!skip(depth + 1)) return false;
        } while (eat(','));
        return false;
    }
};

struct StringFree {
    void operator()(char* s) const noexcept { connect_string_free(s); }
};

struct ClientFree {
    void operator()(connect_client* c) const noexcept { connect_client_free(c); }
};

/* Takes ownership of a document the library returned: "" for NULL. */
inline std::string take_document(char* document) {
    std::unique_ptr<char, StringFree> owned(document);
    return owned ? std::string(owned.get()) : std::string();
}

}  // namespace detail

/* ---- errors and results ---- */

/** A failed call: the status, the error code (the service's, e.g. "ThrottlingException", or the
 *  status name for a local failure), the message, the request id and the HTTP status (both
 *  empty/0 when the call never reached the service), and the whole response document. */
class Error : public std::runtime_error {
public:
    Error(connect_status status, std::string code, std::string message, std::string request_id, int http_status,
          std::string document)
        : std::runtime_error(std::string(connect_status_name(status)) + ": " + message),
          status_(status),
          code_(std::move(code)),
          message_(std::move(message)),
          request_id_(std::move(request_id)),
          http_status_(http_status),
          document_(std::move(document)) {}

    /** Builds the error from a status, its response document (may be empty) and the message
     *  to use when the document carries none. */
    static Error from_document(connect_status status, std::string document, std::string fallback_message) {
        detail::JsonReader reader(document);
        std::string code = reader.find({"Error", "Code"}).value_or(connect_status_name(status));
        std::string message = reader.find({"Error", "Message"}).value_or(std::move(fallback_message));
        std::string request_id = reader.find({"ResponseMetadata", "RequestId"}).value_or(std::string());
        int http_status = 0;
        if (auto text = reader.find({"ResponseMetadata", "HTTPStatusCode"})) {
            /* At most three digits: parse by hand, no locale or exceptions involved. */
            if (!text->empty() && text->size() <= 3) {
                int value = 0;
                bool digits = true;
                for (char c : *text) {
                    digits = digits && c >= '0' && c <= '9';
                    value = value * 10 + (c - '0');
                }
                if (digits) http_status = value;
            }
        }
        return Error(status, std::move(code), std::move(message), std::move(request_id), http_status,
                     std::move(document));
    }

    connect_status status() const noexcept { return status_; }
    /** e.g. "CONNECT_STATUS_THROTTLING" */
    const char* status_name() const noexcept { return connect_status_name(status_); }
    const std::string& code() const noexcept { return code_; }
    const std::string& message() const noexcept { return message_; }
    const std::string& request_id() const noexcept { return request_id_; }
    int http_status() const noexcept { return http_status_; }
    const std::string& document() const noexcept { return document_; }

private:
    connect_status status_;
    std::string code_, message_, request_id_;
    int http_status_;
    std::string document_;
};

/** The outcome of a call, without exceptions. */
class Result {
public:
    Result(connect_status status, std::string document, std::string message)
        : status_(status), document_(std::move(document)), message_(std::move(message)) {}

    connect_status status() const noexcept { return status_; }
    bool ok() const noexcept { return status_ == CONNECT_STATUS_OK; }
    explicit operator bool() const noexcept { return ok(); }
    /** The response document (also on failure; empty only for NULL_ARGUMENT). */
    const std::string& document() const noexcept { return document_; }
    /** connect_last_error_message() of the call: "" on success. */
    const std::string& message() const noexcept { return message_; }
    /** The failure as an Error, with its code, request id and HTTP status. */
    Error error() const { return Error::from_document(status_, document_, message_); }

private:
    connect_status status_;
    std::string document_, message_;
};

/* ---- requests ---- */

// BEGIN GENERATED from model/connect.json by scripts/generate-from-model; do not edit
/* The request types of the botocore 1.44.8 model. Every member is optional (std::optional or an
 * empty container) unless the model requires it; maps are vectors of (key, value) pairs, written
 * in insertion order. Setters return *this, so calls chain. */
struct Reference;
struct SegmentAttributeValue;
struct QueueInfo;
struct UserInfo;
struct Endpoint;
struct EmailAddressInfo;
struct AdditionalRecipients;

/** `Reference`. */
struct Reference {
    /** Value: 0..4096 characters. */
    std::optional<std::string> value;
    Reference& with_value(std::string value) {
        value = std::move(value);
        return *this;
    }
    /** Type: required; open enum: URL, ATTACHMENT, CONTACT_ANALYSIS, NUMBER, STRING, DATE, EMAIL, EMAIL_MESSAGE, EMAIL_MESSAGE_PLAIN_TEXT, EMAIL_MESSAGE_PLAIN_TEXT_REDACTED, EMAIL_MESSAGE_REDACTED, VOICEMAIL_RECORDING, VOICEMAIL_RECORDING_REDACTED, VOICEMAIL_ANALYSIS, VOICEMAIL_ANALYSIS_REDACTED. */
    std::string reference_type{};
    Reference& with_reference_type(std::string value) {
        reference_type = std::move(value);
        return *this;
    }
    /** Status: open enum: AVAILABLE, DELETED, APPROVED, REJECTED, PROCESSING, FAILED, DRAFTING. */
    std::optional<std::string> status;
    Reference& with_status(std::string value) {
        status = std::move(value);
        return *this;
    }
    /** Arn: 20..256 characters; pattern `^[-:/A-Za-z0-9]+`. */
    std::optional<std::string> arn;
    Reference& with_arn(std::string value) {
        arn = std::move(value);
        return *this;
    }
    /** StatusReason: 0..100 characters. */
    std::optional<std::string> status_reason;
    Reference& with_status_reason(std::string value) {
        status_reason = std::move(value);
        return *this;
    }
    void write_json(std::string& out) const;
};

/** `SegmentAttributeValue`. */
struct SegmentAttributeValue {
    /** ValueString: 0..1024 characters. */
    std::optional<std::string> value_string;
    SegmentAttributeValue& with_value_string(std::string value) {
        value_string = std::move(value);
        return *this;
    }
    std::optional<std::vector<std::pair<std::string, SegmentAttributeValue>>> value_map;
    SegmentAttributeValue& with_value_map(std::vector<std::pair<std::string, SegmentAttributeValue>> value) {
        value_map = std::move(value);
        return *this;
    }
    std::optional<std::int32_t> value_integer;
    SegmentAttributeValue& with_value_integer(std::int32_t value) {
        value_integer = std::move(value);
        return *this;
    }
    std::optional<std::vector<SegmentAttributeValue>> value_list;
    SegmentAttributeValue& with_value_list(std::vector<SegmentAttributeValue> value) {
        value_list = std::move(value);
        return *this;
    }
    /** ValueArn: 0..1024 characters. */
    std::optional<std::string> value_arn;
    SegmentAttributeValue& with_value_arn(std::string value) {
        value_arn = std::move(value);
        return *this;
    }
    void write_json(std::string& out) const;
};

/** `QueueInfo` (the model's `QueueInfoInput`). */
struct QueueInfo {
    std::optional<std::string> id;
    QueueInfo& with_id(std::string value) {
        id = std::move(value);
        return *this;
    }
    void write_json(std::string& out) const;
};

/** `UserInfo`. */
struct UserInfo {
    /** UserId: 1..256 characters. */
    std::optional<std::string> user_id;
    UserInfo& with_user_id(std::string value) {
        user_id = std::move(value);
        return *this;
    }
    void write_json(std::string& out) const;
};

/** `Endpoint`. */
struct Endpoint {
    /** Type: open enum: TELEPHONE_NUMBER, VOIP, CONTACT_FLOW, CONNECT_PHONENUMBER_ARN, EMAIL_ADDRESS. */
    std::optional<std::string> endpoint_type;
    Endpoint& with_endpoint_type(std::string value) {
        endpoint_type = std::move(value);
        return *this;
    }
    /** Address: 0..256 characters. */
    std::optional<std::string> address;
    Endpoint& with_address(std::string value) {
        address = std::move(value);
        return *this;
    }
    void write_json(std::string& out) const;
};

/** `EmailAddressInfo`. */
struct EmailAddressInfo {
    /** EmailAddress: required; 1..255 characters; pattern `[^\s@]+@[^\s@]+\.[^\s@]+`; sensitive. */
    std::string email_address{};
    EmailAddressInfo& with_email_address(std::string value) {
        email_address = std::move(value);
        return *this;
    }
    /** DisplayName: 0..256 characters; sensitive. */
    std::optional<std::string> display_name;
    EmailAddressInfo& with_display_name(std::string value) {
        display_name = std::move(value);
        return *this;
    }
    void write_json(std::string& out) const;
};

/** `AdditionalRecipients` (the model's `NullableAdditionalRecipients`). */
struct AdditionalRecipients {
    /** CcEmailAddresses: 0..50 items. */
    std::optional<std::vector<EmailAddressInfo>> cc_email_addresses;
    AdditionalRecipients& with_cc_email_addresses(std::vector<EmailAddressInfo> value) {
        cc_email_addresses = std::move(value);
        return *this;
    }
    void write_json(std::string& out) const;
};

/** UpdateContact's request; to_json() gives the request JSON for Client::update_contact. */
class UpdateContactRequest {
public:
    UpdateContactRequest(std::string instance_id, std::string contact_id)
        : instance_id_(std::move(instance_id)), contact_id_(std::move(contact_id)) {}
    /** Name: 0..1024 characters; sensitive. */
    UpdateContactRequest& name(std::string value) {
        name_ = std::move(value);
        return *this;
    }
    /** Description: 0..4096 characters; sensitive. */
    UpdateContactRequest& description(std::string value) {
        description_ = std::move(value);
        return *this;
    }
    UpdateContactRequest& references(std::vector<std::pair<std::string, Reference>> value) {
        references_ = std::move(value);
        return *this;
    }
    /** Adds (or replaces) one References entry. */
    UpdateContactRequest& references(std::string key, Reference value) {
        if (!references_) references_.emplace();
        for (auto& entry : *references_) {
            if (entry.first == key) {
                entry.second = std::move(value);
                return *this;
            }
        }
        references_->emplace_back(std::move(key), std::move(value));
        return *this;
    }
    UpdateContactRequest& segment_attributes(std::vector<std::pair<std::string, SegmentAttributeValue>> value) {
        segment_attributes_ = std::move(value);
        return *this;
    }
    /** Adds (or replaces) one SegmentAttributes entry. */
    UpdateContactRequest& segment_attributes(std::string key, SegmentAttributeValue value) {
        if (!segment_attributes_) segment_attributes_.emplace();
        for (auto& entry : *segment_attributes_) {
            if (entry.first == key) {
                entry.second = std::move(value);
                return *this;
            }
        }
        segment_attributes_->emplace_back(std::move(key), std::move(value));
        return *this;
    }
    UpdateContactRequest& queue_info(QueueInfo value) {
        queue_info_ = std::move(value);
        return *this;
    }
    UpdateContactRequest& user_info(UserInfo value) {
        user_info_ = std::move(value);
        return *this;
    }
    UpdateContactRequest& customer_endpoint(Endpoint value) {
        customer_endpoint_ = std::move(value);
        return *this;
    }
    UpdateContactRequest& system_endpoint(Endpoint value) {
        system_endpoint_ = std::move(value);
        return *this;
    }
    UpdateContactRequest& additional_recipients(AdditionalRecipients value) {
        additional_recipients_ = std::move(value);
        return *this;
    }
    /** Adds (or replaces) reference `key` with a Type and a Value, e.g.
     *  reference("ticket", "URL", "https://t/42"). */
    UpdateContactRequest& reference(std::string key, std::string type, std::string value) {
        Reference r;
        r.reference_type = std::move(type);
        r.value = std::move(value);
        return references(std::move(key), std::move(r));
    }

    std::string to_json() const {
        std::string out;
        write_json(out);
        return out;
    }
    void write_json(std::string& out) const;

private:
    std::string instance_id_;
    std::string contact_id_;
    std::optional<std::string> name_;
    std::optional<std::string> description_;
    std::optional<std::vector<std::pair<std::string, Reference>>> references_;
    std::optional<std::vector<std::pair<std::string, SegmentAttributeValue>>> segment_attributes_;
    std::optional<QueueInfo> queue_info_;
    std::optional<UserInfo> user_info_;
    std::optional<Endpoint> customer_endpoint_;
    std::optional<Endpoint> system_endpoint_;
    std::optional<AdditionalRecipients> additional_recipients_;
};

inline void Reference::write_json(std::string& out) const {
    char sep = '{';
    if (value) {
        out += sep;
        out += "\"Value\":";
        out += json_quote(*value);
        sep = ',';
    }
    out += sep;
    out += "\"Type\":";
    out += json_quote(reference_type);
    sep = ',';
    if (status) {
        out += sep;
        out += "\"Status\":";
        out += json_quote(*status);
        sep = ',';
    }
    if (arn) {
        out += sep;
        out += "\"Arn\":";
        out += json_quote(*arn);
        sep = ',';
    }
    if (status_reason) {
        out += sep;
        out += "\"StatusReason\":";
        out += json_quote(*status_reason);
        sep = ',';
    }
    if (sep == '{') out += '{';
    out += '}';
}

inline void SegmentAttributeValue::write_json(std::string& out) const {
    char sep = '{';
    if (value_string) {
        out += sep;
        out += "\"ValueString\":";
        out += json_quote(*value_string);
        sep = ',';
    }
    if (value_map) {
        out += sep;
        out += "\"ValueMap\":";
        out += '{';
        bool first0 = true;
        for (const auto& e0 : *value_map) {
            if (!first0) out += ',';
            first0 = false;
            out += json_quote(e0.first);
            out += ':';
            (e0.second).write_json(out);
        }
        out += '}';
        sep = ',';
    }
    if (value_integer) {
        out += sep;
        out += "\"ValueInteger\":";
        out += std::to_string(*value_integer);
        sep = ',';
    }
    if (value_list) {
        out += sep;
        out += "\"ValueList\":";
        out += '[';
        bool first0 = true;
        for (const auto& e0 : *value_list) {
            if (!first0) out += ',';
            first0 = false;
            (e0).write_json(out);
        }
        out += ']';
        sep = ',';
    }
    if (value_arn) {
        out += sep;
        out += "\"ValueArn\":";
        out += json_quote(*value_arn);
        sep = ',';
    }
    if (sep == '{') out += '{';
    out += '}';
}

inline void QueueInfo::write_json(std::string& out) const {
    char sep = '{';
    if (id) {
        out += sep;
        out += "\"Id\":";
        out += json_quote(*id);
        sep = ',';
    }
    if (sep == '{') out += '{';
    out += '}';
}

inline void UserInfo::write_json(std::string& out) const {
    char sep = '{';
    if (user_id) {
        out += sep;
        out += "\"UserId\":";
        out += json_quote(*user_id);
        sep = ',';
    }
    if (sep == '{') out += '{';
    out += '}';
}

inline void Endpoint::write_json(std::string& out) const {
    char sep = '{';
    if (endpoint_type) {
        out += sep;
        out += "\"Type\":";
        out += json_quote(*endpoint_type);
        sep = ',';
    }
    if (address) {
        out += sep;
        out += "\"Address\":";
        out += json_quote(*address);
        sep = ',';
    }
    if (sep == '{') out += '{';
    out += '}';
}

inline void EmailAddressInfo::write_json(std::string& out) const {
    char sep = '{';
    out += sep;
    out += "\"EmailAddress\":";
    out += json_quote(email_address);
    sep = ',';
    if (display_name) {
        out += sep;
        out += "\"DisplayName\":";
        out += json_quote(*display_name);
        sep = ',';
    }
    if (sep == '{') out += '{';
    out += '}';
}

inline void AdditionalRecipients::write_json(std::string& out) const {
    char sep = '{';
    if (cc_email_addresses) {
        out += sep;
        out += "\"CcEmailAddresses\":";
        out += '[';
        bool first0 = true;
        for (const auto& e0 : *cc_email_addresses) {
            if (!first0) out += ',';
            first0 = false;
            (e0).write_json(out);
        }
        out += ']';
        sep = ',';
    }
    if (sep == '{') out += '{';
    out += '}';
}

inline void UpdateContactRequest::write_json(std::string& out) const {
    char sep = '{';
    out += sep;
    out += "\"InstanceId\":";
    out += json_quote(instance_id_);
    sep = ',';
    out += sep;
    out += "\"ContactId\":";
    out += json_quote(contact_id_);
    sep = ',';
    if (name_) {
        out += sep;
        out += "\"Name\":";
        out += json_quote(*name_);
        sep = ',';
    }
    if (description_) {
        out += sep;
        out += "\"Description\":";
        out += json_quote(*description_);
        sep = ',';
    }
    if (references_) {
        out += sep;
        out += "\"References\":";
        out += '{';
        bool first0 = true;
        for (const auto& e0 : *references_) {
            if (!first0) out += ',';
            first0 = false;
            out += json_quote(e0.first);
            out += ':';
            (e0.second).write_json(out);
        }
        out += '}';
        sep = ',';
    }
    if (segment_attributes_) {
        out += sep;
        out += "\"SegmentAttributes\":";
        out += '{';
        bool first0 = true;
        for (const auto& e0 : *segment_attributes_) {
            if (!first0) out += ',';
            first0 = false;
            out += json_quote(e0.first);
            out += ':';
            (e0.second).write_json(out);
        }
        out += '}';
        sep = ',';
    }
    if (queue_info_) {
        out += sep;
        out += "\"QueueInfo\":";
        (*queue_info_).write_json(out);
        sep = ',';
    }
    if (user_info_) {
        out += sep;
        out += "\"UserInfo\":";
        (*user_info_).write_json(out);
        sep = ',';
    }
    if (customer_endpoint_) {
        out += sep;
        out += "\"CustomerEndpoint\":";
        (*customer_endpoint_).write_json(out);
        sep = ',';
    }
    if (system_endpoint_) {
        out += sep;
        out += "\"SystemEndpoint\":";
        (*system_endpoint_).write_json(out);
        sep = ',';
    }
    if (additional_recipients_) {
        out += sep;
        out += "\"AdditionalRecipients\":";
        (*additional_recipients_).write_json(out);
        sep = ',';
    }
    if (sep == '{') out += '{';
    out += '}';
}
// END GENERATED

/* ---- the client ---- */

/** An Amazon Connect client. Thread-safe: one Client may serve any number of threads. */
class Client {
public:
    /** config_json as for connect_client_new(): "" or "{}" takes everything from the
     *  environment. Throws Error (INVALID_CONFIG, NO_REGION, NO_CREDENTIALS, ...). */
    explicit Client(const std::string& config_json = std::string()) {
        connect_client* raw = nullptr;
        connect_status status = connect_client_new(config_json.c_str(), &raw);
        if (status != CONNECT_STATUS_OK) throw Error::from_document(status, std::string(), connect_last_error_message());
        handle_.reset(raw);
    }

    /** A moved-from Client holds nothing; its calls fail with CONNECT_STATUS_NULL_ARGUMENT. */
    Client(Client&&) noexcept = default;
    Client& operator=(Client&&) noexcept = default;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    /** Waits for running asynchronous calls and cancels queued ones (see connect_client_free). */
    ~Client() = default;

    /** The response document; throws Error on failure. Blocks until done. */
    std::string update_contact(std::string_view request_json) const {
        Result result = update_contact(request_json, std::nothrow);
        if (!result) throw result.error();
        return result.document();
    }
    std::string update_contact(const UpdateContactRequest& request) const { return update_contact(request.to_json()); }

    /** Never throws for a failed call (only std::bad_alloc): check the Result. */
    Result update_contact(std::string_view request_json, std::nothrow_t) const {
        const std::string request(request_json); /* NUL-terminated copy */
        char* document = nullptr;
        connect_status status = connect_update_contact(handle_.get(), request.c_str(), &document);
        std::string text = detail::take_document(document);
        return Result(status, std::move(text), connect_last_error_message());
    }
    Result update_contact(const UpdateContactRequest& request, std::nothrow_t) const {
        return update_contact(request.to_json(), std::nothrow);
    }

    /** Starts the call on the client's worker threads. The future yields the response document,
     *  or its get() throws Error. Throws Error at once when the call is refused (QUEUE_FULL,
     *  CANCELLED, THREAD_START, NULL_ARGUMENT, INVALID_UTF8). */
    std::future<std::string> update_contact_async(std::string_view request_json) const {
        const std::string request(request_json);
        auto promise = std::make_unique<std::promise<std::string>>();
        std::future<std::string> future = promise->get_future();
        connect_status status = connect_update_contact_async(handle_.get(), request.c_str(), &Client::complete,
                                                             promise.get());
        if (status != CONNECT_STATUS_OK) throw Error::from_document(status, std::string(), connect_last_error_message());
        promise.release(); /* the callback owns it now: it runs exactly once */
        return future;
    }
    std::future<std::string> update_contact_async(const UpdateContactRequest& request) const {
        return update_contact_async(request.to_json());
    }

    /** The C handle, for calls this wrapper does not cover. Still owned by the Client. */
    connect_client* native_handle() const noexcept { return handle_.get(); }

private:
    /* Runs on a worker thread; nothing may escape into C. */
    static void complete(connect_status status, const char* response_json, void* user_data) noexcept {
        std::unique_ptr<std::promise<std::string>> promise(static_cast<std::promise<std::string>*>(user_data));
        try {
            if (status == CONNECT_STATUS_OK) {
                promise->set_value(response_json);
            } else {
                promise->set_exception(
                    std::make_exception_ptr(Error::from_document(status, response_json, connect_last_error_message())));
            }
        } catch (...) {
            /* Out of memory while building the value: report that instead. */
            try {
                promise->set_exception(std::current_exception());
            } catch (...) {
                /* The promise is already satisfied or broken; its destructor reports it. */
            }
        }
    }

    std::unique_ptr<connect_client, detail::ClientFree> handle_;
};

}  // namespace connect_contact

#endif /* CONNECT_CONTACT_HPP */
