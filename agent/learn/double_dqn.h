// The Double-DQN target and TD loss, as plain functions over flat arrays: the one definition
// both backends follow and the tests check against hand computation.
//
// Double Q-learning (van Hasselt, Guez, Silver, "Deep Reinforcement Learning with Double
// Q-learning", AAAI 2016, eq. 4): the online network selects the next action and the target
// network evaluates it,
//     a*_i = argmax_a Q_online(s'_i, a)            (ties: lowest index)
//     y_i  = r_i + gamma * (1 - terminal_i) * Q_target(s'_i, a*_i)
// and the loss is mean_i l(Q_online(s_i, a_i) - y_i), with y treated as a constant.
#pragma once

#include <cstdint>

#include "agent/learn/learner_settings.h"

namespace bestserve {

// Fills targets[i] (batch values). q_online_next and q_target_next are batch x num_actions,
// row-major; terminals are 0 or 1.
void ComputeDoubleDqnTargets(const float* q_online_next, const float* q_target_next,
                             const float* rewards, const float* terminals, int batch,
                             int num_actions, float gamma, float* targets);

// Per-sample loss l(d) for the TD error d = q - y, and dl/dq.
//   huber: 0.5 d^2 if |d| <= delta, else delta (|d| - 0.5 delta);  dl/dq = clamp(d, -delta, delta)
//   mse:   d^2;                                                     dl/dq = 2 d
// (torch's huber_loss and mse_loss with reduction "mean" use the same per-sample terms.)
float TdLossValue(TdLoss loss, float delta, float difference);
float TdLossGradient(TdLoss loss, float delta, float difference);

}  // namespace bestserve
