#include "serve/http.h"

#include <fmt/format.h>

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <limits>
#include <stdexcept>

namespace bestserve::serve {
namespace {

using asio::use_awaitable;

template <class Message>
void SetHeaders(Message& message, const Headers& headers) {
  for (const auto& [name, value] : headers) message.set(name, value);
}

}  // namespace

std::string_view Exchange::Header(std::string_view name) const {
  const auto it = request_.find(beast::string_view(name.data(), name.size()));
  if (it == request_.end()) return {};
  return {it->value().data(), it->value().size()};
}

asio::awaitable<void> Exchange::Respond(http::status status, std::string content_type,
                                        std::string body, Headers headers) {
  responded_ = true;
  keep_alive_ = request_.keep_alive();
  http::response<http::string_body> response{status, request_.version()};
  response.set(http::field::server, "bestserve");
  response.set(http::field::content_type, content_type);
  SetHeaders(response, headers);
  response.keep_alive(keep_alive_);
  response.body() = std::move(body);
  response.prepare_payload();
  stream_.expires_after(write_timeout_);
  boost::system::error_code ec;
  co_await http::async_write(stream_, response, asio::redirect_error(use_awaitable, ec));
  if (ec) failed_ = true;
}

asio::awaitable<bool> Exchange::BeginStream(std::string content_type, Headers headers) {
  responded_ = true;
  keep_alive_ = request_.keep_alive();
  http::response<http::empty_body> response{http::status::ok, request_.version()};
  response.set(http::field::server, "bestserve");
  response.set(http::field::content_type, content_type);
  response.set(http::field::cache_control, "no-cache");
  SetHeaders(response, headers);
  response.keep_alive(keep_alive_);
  response.chunked(true);
  http::response_serializer<http::empty_body> serializer{response};
  stream_.expires_after(write_timeout_);
  boost::system::error_code ec;
  co_await http::async_write_header(stream_, serializer, asio::redirect_error(use_awaitable, ec));
  if (ec) failed_ = true;
  co_return !failed_;
}

asio::awaitable<bool> Exchange::WriteChunk(std::string data) {
  if (failed_) co_return false;
  if (data.empty()) co_return true;  // an empty chunk would end the body
  stream_.expires_after(write_timeout_);
  boost::system::error_code ec;
  co_await asio::async_write(stream_, http::make_chunk(asio::buffer(data.data(), data.size())),
                             asio::redirect_error(use_awaitable, ec));
  if (ec) failed_ = true;
  co_return !failed_;
}

asio::awaitable<bool> Exchange::EndStream() {
  if (failed_) co_return false;
  stream_.expires_after(write_timeout_);
  boost::system::error_code ec;
  co_await asio::async_write(stream_, http::make_chunk_last(), asio::redirect_error(use_awaitable, ec));
  if (ec) failed_ = true;
  co_return !failed_;
}

HttpServer::HttpServer(asio::io_context& io, const std::string& host, uint16_t port,
                       ServerOptions options, Handler handler)
    : io_(io), acceptor_(io), options_(options), handler_(std::move(handler)) {
  const tcp::endpoint endpoint{asio::ip::make_address(host), port};
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
}

void HttpServer::Start() {
  asio::co_spawn(io_, AcceptLoop(), asio::detached);
}

void HttpServer::StopAccepting() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  connections_->stopping = true;
  // Their reads end with operation_aborted (after this returns) and Serve closes them.
  for (beast::tcp_stream* idle : connections_->idle) idle->cancel();
}

asio::awaitable<void> HttpServer::AcceptLoop() {
  while (acceptor_.is_open()) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
    if (ec) continue;  // e.g. too many open files: keep serving the connections we have
    ++connections_->accepted;
    asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::Serve(tcp::socket socket) {
  // The state outlives the server object if connections drain after it is destroyed.
  const std::shared_ptr<Connections> connections = connections_;
  ++connections->open;
  struct Decrement {
    std::shared_ptr<Connections> connections;
    ~Decrement() { --connections->open; }
  } decrement{connections};
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  beast::tcp_stream stream(std::move(socket));
  // Off the idle list however the coroutine ends (its frame may be destroyed while suspended).
  struct Unmark {
    Connections& connections;
    beast::tcp_stream* stream;
    ~Unmark() { connections.idle.erase(stream); }
  } unmark{*connections, &stream};
  beast::flat_buffer buffer;
  bool first = true;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options_.max_body_bytes);
    parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
    stream.expires_after(first ? options_.read_timeout : options_.idle_timeout);
    if (!first) connections->idle.insert(&stream);
    boost::system::error_code ec;
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (!first) connections->idle.erase(&stream);
    first = false;
    if (ec) {
      // A complete but oversized request gets an answer; a broken or silent peer only a close.
      http::status status = http::status::unknown;
      std::string message;
      if (ec == http::error::body_limit) {
        status = http::status::payload_too_large;
        message = fmt::format("request body over the limit of {} bytes", options_.max_body_bytes);
      } else if (ec == http::error::header_limit) {
        status = http::status::request_header_fields_too_large;
        message = fmt::format("request header over the limit of {} bytes", options_.max_header_bytes);
      } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
                 ec != http::error::end_of_stream && ec != http::error::partial_message) {
        status = http::status::bad_request;
        message = fmt::format("malformed HTTP request: {}", ec.message());
      }
      if (status != http::status::unknown) {
        http::response<http::string_body> response{status, 11};
        response.set(http::field::server, "bestserve");
        response.set(http::field::content_type, "application/json");
        response.keep_alive(false);
        response.body() = fmt::format(R"({{"error":{{"message":"{}","type":"invalid_request_error","param":null,"code":null}}}})",
                                      message);
        response.prepare_payload();
        stream.expires_after(options_.write_timeout);
        boost::system::error_code write_ec;
        co_await http::async_write(stream, response, asio::redirect_error(use_awaitable, write_ec));
      }
      break;
    }
    Exchange exchange(stream, parser.release(), options_.write_timeout);
    co_await handler_(exchange);
    if (!exchange.responded()) {
      co_await exchange.Respond(http::status::internal_server_error, "application/json",
                                R"({"error":{"message":"no response","type":"server_error","param":null,"code":null}})");
    }
    if (!exchange.keep_alive() || connections->stopping) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

std::string HostPort::Url() const {
  return host.find(':') != std::string::npos ? fmt::format("http://[{}]:{}", host, port)
                                             : fmt::format("http://{}:{}", host, port);
}

HostPort ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    throw std::invalid_argument(fmt::format("'{}': expected http://HOST:PORT", url));
  }
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  HostPort result;
  size_t colon = rest.rfind(':');
  if (!rest.empty() && rest.front() == '[') {  // [::1]:8000
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      throw std::invalid_argument(fmt::format("'{}': expected http://[ADDRESS]:PORT", url));
    }
    result.host = std::string(rest.substr(1, close - 1));
    colon = close + 1;
  } else {
    if (colon == std::string_view::npos) throw std::invalid_argument(fmt::format("'{}': no port (expected http://HOST:PORT)", url));
    result.host = std::string(rest.substr(0, colon));
  }
  const std::string_view port = rest.substr(colon + 1);
  unsigned value = 0;
  const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (err != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    throw std::invalid_argument(fmt::format("'{}': port '{}' is not in [1, 65535] (a path after it is not supported)", url, port));
  }
  if (result.host.empty()) throw std::invalid_argument(fmt::format("'{}': no host", url));
  result.port = static_cast<uint16_t>(value);
  return result;
}

asio::awaitable<void> HttpClient::Connect(HostPort endpoint, std::chrono::milliseconds timeout) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(endpoint.host, ec);
  stream_.expires_after(timeout);
  if (!ec) {
    co_await stream_.async_connect(tcp::endpoint{address, endpoint.port}, use_awaitable);
  } else {  // a name: resolve it (localhost)
    tcp::resolver resolver(stream_.get_executor());
    const auto results = co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), use_awaitable);
    co_await stream_.async_connect(results, use_awaitable);
  }
  stream_.socket().set_option(tcp::no_delay(true), ec);
}

asio::awaitable<void> HttpClient::Send(HttpRequest& request, std::chrono::milliseconds timeout) {
  broken_ = true;
  parser_.emplace();
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // streams are long; ReadAll bounds what it keeps
  request_keep_alive_ = request.keep_alive();
  stream_.expires_after(timeout);
  co_await http::async_write(stream_, request, use_awaitable);
  broken_ = false;
}

asio::awaitable<void> HttpClient::ReadHeader(std::chrono::milliseconds timeout) {
  broken_ = true;
  if (!parser_) {
    parser_.emplace();
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  }
  stream_.expires_after(timeout);
  co_await http::async_read_header(stream_, buffer_, *parser_, use_awaitable);
  broken_ = false;
}

std::string_view HttpClient::Header(std::string_view name) const {
  const auto& fields = parser_->get();
  const auto it = fields.find(beast::string_view(name.data(), name.size()));
  if (it == fields.end()) return {};
  return {it->value().data(), it->value().size()};
}

asio::awaitable<std::optional<std::string>> HttpClient::ReadSome(std::chrono::milliseconds timeout) {
  broken_ = true;
  while (!parser_->is_done()) {
    parser_->get().body().data = piece_.data();
    parser_->get().body().size = piece_.size();
    stream_.expires_after(timeout);
    boost::system::error_code ec;
    co_await http::async_read_some(stream_, buffer_, *parser_, asio::redirect_error(use_awaitable, ec));
    if (ec && ec != http::error::need_buffer) throw boost::system::system_error(ec);
    const size_t got = piece_.size() - parser_->get().body().size;
    if (got > 0) {
      broken_ = false;
      co_return std::string(piece_.data(), got);
    }
  }
  broken_ = false;
  co_return std::nullopt;
}

asio::awaitable<std::string> HttpClient::ReadAll(std::chrono::milliseconds timeout, size_t limit) {
  std::string body;
  while (auto piece = co_await ReadSome(timeout)) {
    body += *piece;
    if (body.size() > limit) throw std::length_error(fmt::format("response body over {} bytes", limit));
  }
  co_return body;
}

void HttpClient::Close() {
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

bool HttpClient::Reusable() const {
  return !broken_ && parser_ && parser_->is_done() && parser_->keep_alive() && request_keep_alive_ &&
         buffer_.size() == 0 && stream_.socket().is_open();
}

bool HttpClient::NothingReceived() const { return buffer_.size() == 0 && (!parser_ || !parser_->got_some()); }

bool HttpClient::IdleAndOpen() {
  if (!stream_.socket().is_open()) return false;
  // A peek that must not block: nothing to read is the only answer of a healthy idle connection;
  // 0 bytes is the server's close, an error a reset, data a response nobody asked for.
  char byte = 0;
  const ssize_t got = ::recv(stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

HttpRequest MakeRequest(http::verb verb, std::string_view target, const std::string& host,
                        std::string body, std::string_view content_type) {
  HttpRequest request{verb, beast::string_view(target.data(), target.size()), 11};
  request.set(http::field::host, host);
  request.set(http::field::user_agent, "bestserve");
  if (!body.empty()) request.set(http::field::content_type, content_type);
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

asio::awaitable<void> Notifier::Wait() {
  if (pending_) {
    pending_ = false;
    co_return;
  }
  waiting_ = true;
  timer_.expires_at(Clock::time_point::max());
  boost::system::error_code ec;
  co_await timer_.async_wait(asio::redirect_error(use_awaitable, ec));  // ends with operation_aborted when Notify cancels it
  waiting_ = false;
  pending_ = false;
}

void Notifier::Notify() {
  if (waiting_) {
    timer_.cancel();
  } else {
    pending_ = true;
  }
}

}  // namespace bestserve::serve
