// kiln/nn/log/http_client.h: a small blocking HTTP client over libcurl, for MLflow's REST API.
// One instance is used by one thread at a time (it keeps one connection alive between requests).
#pragma once

#include <string>
#include <vector>

namespace kiln::logs {

struct HttpResponse {
  long status = 0;  // the HTTP status; 0 when no response arrived
  std::string body = {};
  std::string error = {};  // the transport error (connection refused, timeout, ...) when status is 0
  bool ok() const { return status >= 200 && status < 300; }
  // Worth retrying: no response at all, the server overloaded or failing (429, 5xx).
  bool transient() const { return status == 0 || status == 429 || status >= 500; }
};

class HttpClient {
 public:
  // `headers` are sent with every request ("Authorization: Bearer ...").
  explicit HttpClient(double timeout_s, std::vector<std::string> headers = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse get(const std::string& url);
  HttpResponse post_json(const std::string& url, const std::string& json);
  HttpResponse put(const std::string& url, const std::string& body, const std::string& content_type);

  // RFC 3986 percent-encoding of everything but unreserved characters (for query values and path
  // segments).
  static std::string escape(const std::string& s);

 private:
  HttpResponse perform(const char* method, const std::string& url, const std::string* body,
                       const std::string& content_type);
  void* curl_ = nullptr;  // CURL*, kept out of the header so users need no curl headers
  double timeout_s_;
  std::vector<std::string> headers_;
};

}  // namespace kiln::logs
