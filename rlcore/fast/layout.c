/* The layout of every struct shared with Python: its size, then the offset of each field in
 * declaration order. rlcore/fast/lib.py compares these with its ctypes mirrors when the
 * library loads and refuses a library whose layout differs. */
#include "kernels.h"

#define O(T, f) (int64_t)offsetof(T, f)

static const int64_t LAYOUT[] = {
    sizeof(Mlp), O(Mlp, L), O(Mlp, hidden_act), O(Mlp, out_act), O(Mlp, wt), O(Mlp, dims), O(Mlp, W),
    O(Mlp, b), O(Mlp, gW), O(Mlp, gb),
    sizeof(Adam), O(Adam, n), O(Adam, b1), O(Adam, b2), O(Adam, eps), O(Adam, wd), O(Adam, size), O(Adam, p),
    O(Adam, g), O(Adam, m), O(Adam, v), O(Adam, step),
    sizeof(OffCtx), O(OffCtx, nc), O(OffCtx, obs_dim), O(OffCtx, act_dim), O(OffCtx, max_batch),
    O(OffCtx, npolyak), O(OffCtx, gamma), O(OffCtx, tau), O(OffCtx, target_noise), O(OffCtx, noise_clip),
    O(OffCtx, target_entropy), O(OffCtx, log_std_min), O(OffCtx, log_std_max), O(OffCtx, actor),
    O(OffCtx, actor_t), O(OffCtx, critic), O(OffCtx, critic_t), O(OffCtx, actor_opt), O(OffCtx, critic_opt),
    O(OffCtx, alpha_opt), O(OffCtx, polyak_size), O(OffCtx, polyak_t), O(OffCtx, polyak_s), O(OffCtx, obs),
    O(OffCtx, next_obs), O(OffCtx, act), O(OffCtx, rew), O(OffCtx, done), O(OffCtx, log_alpha), O(OffCtx, ws),
    sizeof(PPOCtx), O(PPOCtx, obs_dim), O(PPOCtx, act_dim), O(PPOCtx, nout), O(PPOCtx, discrete),
    O(PPOCtx, max_batch), O(PPOCtx, norm_adv), O(PPOCtx, vf_coef), O(PPOCtx, ent_coef), O(PPOCtx, clip_vf),
    O(PPOCtx, max_grad_norm), O(PPOCtx, pi), O(PPOCtx, vf), O(PPOCtx, log_std), O(PPOCtx, g_log_std),
    O(PPOCtx, opt), O(PPOCtx, ws),
    sizeof(EnvCtx), O(EnvCtx, kind), O(EnvCtx, n), O(EnvCtx, state_dim), O(EnvCtx, obs_dim), O(EnvCtx, act_dim),
    O(EnvCtx, max_steps), O(EnvCtx, state), O(EnvCtx, ep_return), O(EnvCtx, low), O(EnvCtx, span),
    O(EnvCtx, pool), O(EnvCtx, rec_return), O(EnvCtx, elapsed), O(EnvCtx, rec_length), O(EnvCtx, pool_size),
    O(EnvCtx, pool_pos), O(EnvCtx, rec_cap), O(EnvCtx, rec_n),
    sizeof(NormCtx), O(NormCtx, dim), O(NormCtx, update), O(NormCtx, mean), O(NormCtx, var), O(NormCtx, count),
    O(NormCtx, clip), O(NormCtx, eps),
};

/* Copies up to ``cap`` layout numbers into ``out``; returns how many there are. */
int rl_layout(int64_t *out, int cap) {
    int n = (int)(sizeof LAYOUT / sizeof LAYOUT[0]);
    for (int i = 0; i < n && i < cap; i++) out[i] = LAYOUT[i];
    return n;
}
