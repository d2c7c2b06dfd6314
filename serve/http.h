// HTTP/1.1 on Boost.Beast for bestserve's servers and clients, as C++20 coroutines on one
// io_context thread: one small server (keep-alive, body limit, chunked streaming) and one
// small client (connect and read timeouts, a response read piece by piece). The gateway, the
// emulator and the load generator are written against these and nothing else of Beast.
//
// Why one thread per process: every decision reads shared counters (in-flight per model, the
// arrival-rate estimate) that the router library expects to see in arrival order; a single
// event loop serializes them without locks, and loopback serving of thousands of streams is
// far from saturating one core (bench/serve/gateway_bench.sh measures it).
#pragma once

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace bestserve::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

using HttpRequest = http::request<http::string_body>;
using Headers = std::vector<std::pair<std::string, std::string>>;

// One request received by HttpServer. The handler answers once: Respond() with a whole body, or
// BeginStream(), WriteChunk()..., EndStream() for a chunked (server-sent events) answer.
class Exchange {
 public:
  Exchange(beast::tcp_stream& stream, HttpRequest request, std::chrono::milliseconds write_timeout)
      : stream_(stream), request_(std::move(request)), write_timeout_(write_timeout) {}

  const HttpRequest& request() const { return request_; }
  std::string_view target() const { return {request_.target().data(), request_.target().size()}; }
  bool is_post() const { return request_.method() == http::verb::post; }
  std::string_view Header(std::string_view name) const;

  asio::awaitable<void> Respond(http::status status, std::string content_type, std::string body,
                                Headers headers = {});
  // Each returns false when the client is gone (write failed or timed out); the handler then
  // stops writing and cancels its work.
  asio::awaitable<bool> BeginStream(std::string content_type, Headers headers = {});
  asio::awaitable<bool> WriteChunk(std::string data);
  asio::awaitable<bool> EndStream();

  bool responded() const { return responded_; }
  bool keep_alive() const { return keep_alive_ && !failed_; }
  // Whether a write to the client failed (it disconnected, or was too slow).
  bool client_gone() const { return failed_; }

 private:
  beast::tcp_stream& stream_;
  HttpRequest request_;
  std::chrono::milliseconds write_timeout_;
  bool responded_ = false;
  bool keep_alive_ = true;
  bool failed_ = false;
};

using Handler = std::function<asio::awaitable<void>(Exchange&)>;

struct ServerOptions {
  size_t max_body_bytes = 1 << 20;                    // larger: 413
  size_t max_header_bytes = 16 << 10;                 // larger: 431
  std::chrono::milliseconds idle_timeout{30'000};     // between requests on a kept-alive connection
  std::chrono::milliseconds read_timeout{10'000};     // a request's header and body
  std::chrono::milliseconds write_timeout{10'000};    // each write to a slow client
};

class HttpServer {
 public:
  // Binds and listens at once (so the port is known); Start() begins accepting. Port 0 picks a
  // free port. Throws std::system_error when the address cannot be bound.
  HttpServer(asio::io_context& io, const std::string& host, uint16_t port, ServerOptions options,
             Handler handler);
  uint16_t port() const { return port_; }
  void Start();
  // Closes the listening socket and the kept-alive connections waiting for a next request (their
  // clients see the close, as from any server going away); a connection in the middle of an
  // exchange finishes it, then closes.
  void StopAccepting();
  int64_t open_connections() const { return connections_->open; }
  int64_t accepted_connections() const { return connections_->accepted; }

 private:
  // Shared with the connections' coroutines, which may outlive the server object.
  struct Connections {
    int64_t open = 0;
    int64_t accepted = 0;
    bool stopping = false;
    std::set<beast::tcp_stream*> idle;  // kept alive, waiting for their next request
  };

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Serve(tcp::socket socket);

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  ServerOptions options_;
  Handler handler_;
  uint16_t port_ = 0;
  std::shared_ptr<Connections> connections_ = std::make_shared<Connections>();
};

// "http://host:port" (a trailing path is refused). Throws std::invalid_argument naming the url.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string Url() const;  // http://host:port, an IPv6 address in brackets
};
HostPort ParseHttpUrl(std::string_view url);

// HTTP exchanges as a client: connect, send, read the header, then the body in pieces (chunked
// transfer decoded). Every step is bounded by its timeout; a failure throws
// boost::system::system_error (timeouts: beast::error::timeout). After a response read to its
// end, Reusable() says whether the connection may carry another exchange (Send again).
class HttpClient {
 public:
  explicit HttpClient(asio::any_io_executor executor) : stream_(std::move(executor)) {}

  asio::awaitable<void> Connect(HostPort endpoint, std::chrono::milliseconds timeout);
  // Begins an exchange: sends the request.
  asio::awaitable<void> Send(HttpRequest& request, std::chrono::milliseconds timeout);
  // Reads the status line and headers.
  asio::awaitable<void> ReadHeader(std::chrono::milliseconds timeout);
  int status() const { return static_cast<int>(parser_->get().result_int()); }
  std::string_view Header(std::string_view name) const;
  // The next piece of the body, or nothing at its end.
  asio::awaitable<std::optional<std::string>> ReadSome(std::chrono::milliseconds timeout);
  // The rest of the body, at most `limit` bytes (more: throws).
  asio::awaitable<std::string> ReadAll(std::chrono::milliseconds timeout, size_t limit);
  // Closes the connection (a server notices and cancels the request).
  void Close();

  // Whether the connection can carry another exchange: the response was read to its end with no
  // error, request and response both kept the connection alive, and no byte arrived beyond it.
  bool Reusable() const;
  // Whether the current exchange has received no byte of a response (after a failed Send or
  // ReadHeader: the server closed the connection before it answered anything).
  bool NothingReceived() const;
  // For a connection between exchanges, without waiting: false when the server has closed it
  // (or sent bytes nobody asked for), true while it is open and quiet.
  bool IdleAndOpen();

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::buffer_body>> parser_;  // one per exchange
  bool request_keep_alive_ = false;
  bool broken_ = false;  // set while an operation runs, left set when it throws: state unknown
  // One piece of a response at a time: events of a stream are about 200 bytes, and every open
  // stream holds one of these (docs/serving.md, memory per stream).
  std::array<char, 4096> piece_{};
};

// A request with the usual headers set.
HttpRequest MakeRequest(http::verb verb, std::string_view target, const std::string& host,
                        std::string body = "", std::string_view content_type = "application/json");

// A one-shot notification between coroutines on one thread: Wait() suspends until Notify()
// (or returns at once if notified since the last Wait).
class Notifier {
 public:
  explicit Notifier(asio::any_io_executor executor) : timer_(std::move(executor)) {}
  asio::awaitable<void> Wait();
  void Notify();

 private:
  asio::steady_timer timer_;
  bool pending_ = false;
  bool waiting_ = false;
};

}  // namespace bestserve::serve
