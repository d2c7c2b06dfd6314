// The trainer checkpoint (.bsc, agent/train/trainer.h): whatever a checkpoint file holds, Resume
// restores it or refuses it with an error, leaving a fresh trainer; a restored trainer trains on.
//
// A checkpoint is checksummed and starts with the run's fingerprint, so random bytes would only
// ever test those two checks. The harness therefore frames the input as the checkpoint's body:
// the header of a real tiny run (magic, version, fingerprint, settings) and a valid checksum
// around bytes that the first input byte chooses: the rest of the input as the whole body, or
// the body of a real checkpoint (300 iterations: replay buffer, Adam state, best policy, an
// episode in flight) overwritten at an offset, or cut at an offset and continued by the input.
#include <cstring>
#include <memory>
#include <string>

#include "agent/learn/fast_learner.h"
#include "agent/train/trainer.h"
#include "router/policy/binary_io.h"
#include "tests/agent/toy_environments.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace bestserve;

LearnerSettings Tiny() {
  LearnerSettings s;
  s.hidden_sizes = {8};
  s.batch_size = 16;
  s.learning_starts = 32;
  s.replay_capacity = 128;
  s.target_update_every_updates = 20;
  s.iterations = 400;
  s.eval_every_iterations = 0;        // never: no evaluation hook here
  s.checkpoint_every_iterations = 0;  // never: the harness writes the file
  s.progress_every_iterations = 1000;
  s.curve_every_iterations = 50;
  s.reward_window = 50;
  return s;
}

struct Frame {
  std::string header;      // magic, version, fingerprint, settings
  std::string valid_body;  // a real checkpoint's body after 300 iterations, without the checksum
};

const Frame& RealCheckpoint() {
  static const Frame frame = [] {
    testing::DelayedRoutingToy env;
    Trainer trainer(Tiny(), 1, env, MakeFastLearner);
    trainer.Run(300);
    const std::string bytes = trainer.EncodeCheckpoint();
    ByteReader reader(bytes, "checkpoint");
    reader.Raw(8);
    reader.U32();
    reader.String();
    reader.String();
    const size_t header = reader.position();
    return Frame{bytes.substr(0, header), bytes.substr(header, bytes.size() - header - 8)};
  }();
  return frame;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const Frame& frame = RealCheckpoint();
  const std::string_view rest = fuzz::AsText(data + 5, size - 5);
  uint32_t offset = 0;
  std::memcpy(&offset, data + 1, 4);
  std::string body;
  switch (data[0] % 3) {
    case 0:
      body = rest;
      break;
    case 1:
      body = frame.valid_body;
      offset %= static_cast<uint32_t>(body.size());
      body.replace(offset, std::min(rest.size(), body.size() - offset), rest.substr(0, body.size() - offset));
      break;
    default:
      body = frame.valid_body.substr(0, offset % (frame.valid_body.size() + 1));
      body += rest;
      break;
  }
  ByteWriter out;
  out.Raw(frame.header);
  out.Raw(body);
  out.AppendChecksum();
  const std::string path = fuzz::WriteScratch(out.bytes(), ".bsc");
  testing::DelayedRoutingToy env;
  Trainer trainer(Tiny(), 1, env, MakeFastLearner);
  try {
    trainer.Resume(path);
  } catch (const Error&) {
    return 0;
  } catch (const BinaryFormatError&) {
    return 0;
  }
  trainer.Run(std::min<int64_t>(trainer.iteration() + 20, Tiny().iterations));  // a restored trainer trains on
  return 0;
}
