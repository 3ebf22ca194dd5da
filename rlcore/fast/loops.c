/* Collection loops that keep acting, the environment and storage in C (envs.c + kernels.c).
 *
 * With a C-stepped classic-control env (and optionally NormalizeObservation over it), a
 * whole PPO rollout, or a run of off-policy exploration steps, is one call. Random draws
 * come from the caller, taken from the same torch generators in the same order as the
 * eager loops in rlcore/agents, so both loops collect the same data. A loop returns early,
 * at the step it reached, when the env needs its reset pool refilled or its episode records
 * emptied (rl_env_ready); the caller does that and calls again from there.
 */
#include "kernels.h"

typedef struct {
    float *obs, *next_obs, *next_norm, *reward;
    uint8_t *term, *trunc;
} StepBuf;

/* scratch: 3 * n * obs_dim + 3 * n floats. */
static StepBuf step_buffers(float *scratch, int n, int od) {
    StepBuf b;
    b.obs = scratch;
    b.next_obs = b.obs + (size_t)n * od;
    b.next_norm = b.next_obs + (size_t)n * od;
    b.reward = b.next_norm + (size_t)n * od;
    b.term = (uint8_t *)(b.reward + n);
    b.trunc = b.term + n;
    return b;
}

/* Step the env; cur (the agent's observations, [n, od]) becomes the next observations, and
 * the returned pointer holds the final observations of the step, both normalised when z. */
static const float *env_advance(EnvCtx *e, NormCtx *z, const void *action, float *cur, StepBuf *b) {
    int n = e->n, od = e->obs_dim;
    rl_env_step(e, action, b->obs, b->next_obs, b->reward, b->term, b->trunc);
    if (!z) {
        memcpy(cur, b->obs, sizeof(float) * n * od);
        return b->next_obs;
    }
    rl_norm_step(z, n, b->obs, b->next_obs, cur, b->next_norm);
    return b->next_norm;
}

/* Store one rollout step's outcome: rewards, with gamma * V(final obs) added where an episode
 * was truncated (not terminated), and dones = terminated or truncated. ws: rl_ppo_act_ws_size
 * floats (for one row). */
void rl_ppo_outcome(PPOCtx *c, int n, const float *reward, const uint8_t *term, const uint8_t *trunc,
                    const float *final_obs, float gamma, float *ws, float *s_rew, float *s_done) {
    float *hv[MAXL + 1];
    for (int i = 0; i < n; i++) {
        float r = reward[i];
        if (trunc[i] && !term[i]) {
            for (int l = 1; l <= MAXL; l++) hv[l] = ws + (size_t)(l - 1) * mlp_width(&c->vf);
            mlp_forward(&c->vf, 1, final_obs + (size_t)i * c->obs_dim, hv);
            r += gamma * hv[c->vf.L][0];
        }
        s_rew[i] = r;
        s_done[i] = (term[i] || trunc[i]) ? 1.f : 0.f;
    }
}

/* PPO rollout rows t..T-1 (the eager loop is rlcore.agents.onpolicy.collect_rollout): act
 * from cur into row t of the storage (obs, action, log-prob, value), step, bootstrap
 * time-limit truncations with gamma * V(final obs), store reward and done. draws: [T, n, k]
 * (uniform for Discrete, standard normal for Box). ws: rl_ppo_act_ws_size(c, n) floats.
 * Returns the row reached (T when done). */
int rl_ppo_rollout(PPOCtx *c, EnvCtx *e, NormCtx *z, int t, int T, float *cur, const float *draws, float *ws,
                   float *s_obs, void *s_act, float *s_logp, float *s_val, float *s_rew, float *s_done,
                   float *env_act, const float *low, const float *high, float gamma, float *scratch) {
    int n = e->n, od = c->obs_dim, k = c->discrete ? 1 : c->act_dim;
    StepBuf b = step_buffers(scratch, n, od);
    for (; t < T; t++) {
        if (!rl_env_ready(e)) return t;
        float *o = s_obs + (size_t)t * n * od;
        memcpy(o, cur, sizeof(float) * n * od);
        void *act = c->discrete ? (void *)((int64_t *)s_act + (size_t)t * n)
                                : (void *)((float *)s_act + (size_t)t * n * k);
        rl_ppo_act(c, o, n, draws + (size_t)t * n * k, ws, act, s_logp + (size_t)t * n, s_val + (size_t)t * n,
                   env_act, low, high);
        const float *fin = env_advance(e, z, c->discrete ? act : env_act, cur, &b);
        rl_ppo_outcome(c, n, b.reward, b.term, b.trunc, fin, gamma, ws, s_rew + (size_t)t * n, s_done + (size_t)t * n);
    }
    return t;
}

/* Off-policy exploration steps (rlcore.agents.offpolicy.collect_transitions) for TD3/DDPG
 * (sac = 0: a = clip(tanh-actor(obs) + sigma * noise, -1, 1)) and SAC (sac = 1: a =
 * tanh(mean + exp(clipped log-std) * noise)). Each step writes replay slots *pos..*pos+n-1
 * (modulo cap): obs, final next obs, action in [-1, 1], reward, done = terminated, ends =
 * terminated or truncated. noise: [steps, n, act_dim]; ws: (MAXL + 1) * n * width floats.
 * Returns the steps done. */
int rl_off_collect(OffCtx *c, EnvCtx *e, NormCtx *z, int steps, int sac, float sigma, float *cur,
                   const float *noise, uint8_t *ends, int64_t *pos, int64_t cap, const float *low,
                   const float *high, float *env_act, float *ws, float *scratch) {
    int n = e->n, od = c->obs_dim, ad = c->act_dim, W = mlp_width(&c->actor);
    StepBuf b = step_buffers(scratch, n, od);
    float *h[MAXL + 1], *a = ws;
    for (int l = 1; l <= MAXL; l++) h[l] = ws + (size_t)n * ad + (size_t)(l - 1) * n * W;
    int s;
    for (s = 0; s < steps; s++) {
        if (!rl_env_ready(e)) return s;
        mlp_forward(&c->actor, n, cur, h);
        const float *out = h[c->actor.L], *eps = noise + (size_t)s * n * ad;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < ad; j++) {
                size_t q = (size_t)i * ad + j;
                float v;
                if (sac) {
                    float mean = out[(size_t)i * 2 * ad + j], ls = out[(size_t)i * 2 * ad + ad + j];
                    ls = ls < c->log_std_min ? c->log_std_min : (ls > c->log_std_max ? c->log_std_max : ls);
                    v = tanhf(mean + expf(ls) * eps[q]);
                } else {
                    v = out[q] + eps[q] * sigma;
                    v = v < -1.f ? -1.f : (v > 1.f ? 1.f : v);
                }
                a[q] = v;
                env_act[q] = low[j] + (v + 1.f) * 0.5f * (high[j] - low[j]);
            }
        int64_t p = *pos;
        for (int i = 0; i < n; i++) {
            int64_t slot = (p + i) % cap;
            memcpy(c->obs + slot * od, cur + (size_t)i * od, sizeof(float) * od);
            memcpy(c->act + slot * ad, a + (size_t)i * ad, sizeof(float) * ad);
        }
        const float *fin = env_advance(e, z, env_act, cur, &b);
        for (int i = 0; i < n; i++) {
            int64_t slot = (p + i) % cap;
            memcpy(c->next_obs + slot * od, fin + (size_t)i * od, sizeof(float) * od);
            c->rew[slot] = b.reward[i];
            c->done[slot] = b.term[i] ? 1.f : 0.f;
            ends[slot] = b.term[i] || b.trunc[i];
        }
        *pos = (p + n) % cap;
    }
    return s;
}

/* Generalized advantage estimation over [T, n] float32 rollouts (rlcore.returns.gae):
 * delta_t = r_t + gamma (1 - done_t) V_{t+1} - V_t, A_t = delta_t + gamma lam (1 - done_t)
 * A_{t+1}, V_T = last; returns = A + V. */
void rl_gae(int T, int n, const float *rew, const float *val, const float *done, const float *last, float gamma,
            float gamma_lam, float *adv, float *ret) {
    for (int i = 0; i < n; i++) {
        float running = 0.f, next_v = last[i];
        for (int t = T - 1; t >= 0; t--) {
            size_t k = (size_t)t * n + i;
            float not_done = 1.f - done[k];
            float delta = rew[k] + gamma * not_done * next_v - val[k];
            running = delta + gamma_lam * not_done * running;
            adv[k] = running;
            ret[k] = running + val[k];
            next_v = val[k];
        }
    }
}
