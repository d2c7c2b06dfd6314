#!/usr/bin/env python3
"""Double DQN in PyTorch on bestserve.VectorRoutingEnv, exported to bestserve's policy format.

Trains on the C++ trainer's environment and transitions (info["completed"]: each decision
credited with its own request's reward, discount per decision), with the C++ trainer's
defaults (one hidden layer of 256, gamma 0.99, Adam 1e-4, Huber loss, batch 1024, target copy
every 500 updates, replay 100k, epsilon 1 -> 0.05 over the first 10% of iterations) and its
budget unit: one iteration = one decision = one gradient update once learning has started.
Then writes OUT/policy.bsw and runs `bestserve evaluate --policy` on it.

    PYTHONPATH=build/python /usr/bin/python3 python/examples/dqn_torch.py \
        --iterations 30000 --out runs/python_dqn --cli build/apps/bestserve/bestserve
"""
import argparse
import os
import subprocess
import time

import numpy as np
import torch

import bestserve


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="training config (default: experiments/train/paper_hard.yaml)")
    p.add_argument("--iterations", type=int, default=30000, help="decisions (= gradient updates) in all")
    p.add_argument("--envs", type=int, default=16, help="environments stepped together")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--learning-starts", type=int, default=10000)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--out", required=True, help="folder for policy.bsw")
    p.add_argument("--cli", help="the bestserve executable (evaluates the policy when given)")
    p.add_argument("--eval-config", default="experiments/scenarios/paper_unpredictable1.yaml")
    p.add_argument("--eval-args", default="", help="extra arguments for bestserve evaluate")
    return p.parse_args()


class Replay:
    """A ring buffer of (s, a, r, s', terminal) transitions."""

    def __init__(self, capacity, size):
        self.obs = np.zeros((capacity, size), np.float32)
        self.next_obs = np.zeros((capacity, size), np.float32)
        self.action = np.zeros(capacity, np.int64)
        self.reward = np.zeros(capacity, np.float32)
        self.terminal = np.zeros(capacity, np.float32)
        self.capacity, self.count, self.cursor = capacity, 0, 0

    def add(self, t):
        i = (self.cursor + np.arange(len(t["action"]))) % self.capacity
        self.obs[i], self.next_obs[i] = t["observation"], t["next_observation"]
        self.action[i], self.reward[i], self.terminal[i] = t["action"], t["reward"], t["terminal"]
        self.cursor = (self.cursor + len(i)) % self.capacity
        self.count = min(self.count + len(i), self.capacity)

    def sample(self, rng, batch):
        i = rng.integers(0, self.count, size=batch)
        return (torch.from_numpy(self.obs[i]), torch.from_numpy(self.action[i]), torch.from_numpy(self.reward[i]),
                torch.from_numpy(self.next_obs[i]), torch.from_numpy(self.terminal[i]))


def network(inputs, hidden, actions):
    return torch.nn.Sequential(torch.nn.Linear(inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, actions))


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    env = bestserve.VectorRoutingEnv(args.envs, config=args.config, seed=args.seed)
    n, size, actions = env.num_envs, env.observation_size, env.num_actions
    online, target = network(size, args.hidden, actions), network(size, args.hidden, actions)
    target.load_state_dict(online.state_dict())
    optimizer = torch.optim.Adam(online.parameters(), lr=1e-4, eps=1e-8)
    replay = Replay(100_000, size)
    gamma, target_every, decay = 0.99, 500, 0.1 * args.iterations
    obs, _ = env.reset(seed=args.seed)
    iteration, updates, losses, rewards = 0, 0, [], []
    start = time.perf_counter()
    while iteration < args.iterations:
        epsilon = max(0.05, 1.0 - (1.0 - 0.05) * iteration / decay)
        with torch.no_grad():
            greedy = online(torch.from_numpy(obs)).argmax(dim=1).numpy()
        explore = rng.random(n) < epsilon
        action = np.where(explore, rng.integers(0, actions, size=n), greedy).astype(np.int32)
        obs, reward, terminated, truncated, info = env.step(action)
        replay.add(info["completed"])
        rewards.extend(info["completed"]["reward"].tolist())
        iteration += n
        # One update per decision once the buffer holds learning_starts transitions.
        for _ in range(n if replay.count >= args.learning_starts else 0):
            s, a, r, s2, term = replay.sample(rng, args.batch)
            with torch.no_grad():  # Double DQN: the online net picks, the target net values.
                best = online(s2).argmax(dim=1, keepdim=True)
                y = r + gamma * (1.0 - term) * target(s2).gather(1, best).squeeze(1)
            q = online(s).gather(1, a.unsqueeze(1)).squeeze(1)
            loss = torch.nn.functional.huber_loss(q, y, delta=1.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            updates += 1
            if updates % target_every == 0:
                target.load_state_dict(online.state_dict())
        if iteration % (n * 500) == 0 or iteration >= args.iterations:
            print(f"iteration {iteration}/{args.iterations} | updates {updates} | epsilon {epsilon:.3f} | "
                  f"loss {np.mean(losses[-500:]) if losses else float('nan'):.5f} | "
                  f"recent reward {np.mean(rewards[-1000:]):.4f} | {time.perf_counter() - start:.1f} s", flush=True)
    os.makedirs(args.out, exist_ok=True)
    policy = os.path.join(args.out, "policy.bsw")
    linears = [m for m in online if isinstance(m, torch.nn.Linear)]
    env.save_policy(policy, [(m.weight.detach().numpy(), m.bias.detach().numpy()) for m in linears],
                    name=f"python_dqn_seed{args.seed}")
    print(f"trained {iteration} iterations ({updates} updates) in {time.perf_counter() - start:.1f} s; "
          f"policy written to {policy}")
    if args.cli:
        config = args.eval_config
        if not os.path.isabs(config):
            config = os.path.join(bestserve.data_dir(), config)
        command = [args.cli, "evaluate", "--config", config, "--routers", "greedy", "--policy", policy]
        subprocess.run(command + args.eval_args.split(), check=True)


if __name__ == "__main__":
    main()
