/* Fused update steps for rlcore's default MLP agents (TD3, SAC, PPO).
 *
 * One call does a whole update (gather the batch, forward, backward, Adam, Polyak) on the
 * memory of the agent's own torch tensors: parameters, Adam state and storage are read and
 * written in place, so checkpoints, evaluation and export see exactly what the eager path
 * would produce. Matrix products go to the BLAS sgemm that torch ships (found at load time),
 * with a plain loop as fallback. The Python side (rlcore/fast/__init__.py) checks the
 * results against autograd in tests/rlcore/test_fast.py.
 *
 * Layout conventions: all tensors are float32, row-major, contiguous. An Mlp's weights are
 * either [out, in] (torch.nn.Linear, wt = 1) or [in, out] (a slice of CriticEnsemble, wt = 0).
 */
#include "kernels.h"

static sgemm_fn g_sgemm = 0;
void rl_init(void *sgemm) { g_sgemm = (sgemm_fn)sgemm; }

/* ----- linear algebra ------------------------------------------------------------------ */

/* Row-major C[M,N] = alpha * op(A) @ op(B) + beta * C; A is [M,K] (or [K,M] when ta), B is
 * [K,N] (or [N,K] when tb). */
static void gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, const float *B, float beta,
                 float *C) {
    if (M <= 0 || N <= 0) return;
    if (g_sgemm && K > 0 && N < 8 && M >= 4 * N) {
        /* A narrow C (an output head, a first-layer weight gradient) is a shape BLAS handles
         * up to 5x slower than its transpose: compute C^T = op(B)^T op(A)^T, then add it in. */
        static __thread float *t_buf = 0;
        static __thread size_t t_cap = 0;
        size_t need = (size_t)M * N;
        if (need > t_cap) {
            free(t_buf);
            t_buf = malloc(sizeof(float) * need);
            t_cap = t_buf ? need : 0;
        }
        if (t_buf) {
            char opa = ta ? 'N' : 'T', opb = tb ? 'N' : 'T';
            int lda = ta ? M : K, ldb = tb ? K : N;
            float zero = 0.f;
            g_sgemm(&opa, &opb, &M, &N, &K, &alpha, A, &lda, B, &ldb, &zero, t_buf, &M);
            for (int i = 0; i < M; i++) {
                float *c = C + (size_t)i * N;
                for (int j = 0; j < N; j++) c[j] = (beta == 0.f ? 0.f : beta * c[j]) + t_buf[(size_t)j * M + i];
            }
            return;
        }
    }
    if (g_sgemm && K > 0) {
        char opa = ta ? 'T' : 'N', opb = tb ? 'T' : 'N';
        int lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
        g_sgemm(&opb, &opa, &N, &M, &K, &alpha, B, &ldb, A, &lda, &beta, C, &ldc);
        return;
    }
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * N;
        if (beta == 0.f)
            memset(c, 0, sizeof(float) * N);
        else if (beta != 1.f)
            for (int j = 0; j < N; j++) c[j] *= beta;
        for (int k = 0; k < K; k++) {
            float a = alpha * (ta ? A[(size_t)k * M + i] : A[(size_t)i * K + k]);
            if (tb)
                for (int j = 0; j < N; j++) c[j] += a * B[(size_t)j * K + k];
            else {
                const float *b = B + (size_t)k * N;
                for (int j = 0; j < N; j++) c[j] += a * b[j];
            }
        }
    }
}

/* e^x for x in [-18, 0]: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two parts so n ln2
 * is exact), e^r = 1 + r + r^2 P(r) with P the classic degree-5 minimax fit, and 2^n written
 * into the exponent bits. Plain arithmetic, so loops over it vectorise; relative error ~1e-7. */
static inline float exp_neg(float x) {
    int32_t k = (int32_t)(x * 1.44269504088896341f - 0.5f); /* round(x / ln2) for x <= 0 */
    float n = (float)k;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.f;
    union { int32_t i; float f; } scale;
    scale.i = (k + 127) << 23;
    return p * scale.f;
}

/* tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|), clamped where tanh is +-1 in
 * float32: absolute error below 1e-7, NaN stays NaN, ~5x faster than a VML call. Two
 * passes per block so that both loops vectorise (a clamp inside the second one stops GCC). */
static void tanh_inplace(int n, float *x) {
    float m[256];
    for (int s = 0; s < n; s += 256) {
        int b = n - s < 256 ? n - s : 256;
        float *v = x + s;
        for (int i = 0; i < b; i++) {
            float a = -2.f * fabsf(v[i]);
            m[i] = a < -18.f ? -18.f : a;
        }
        for (int i = 0; i < b; i++) {
            float e = exp_neg(m[i]);
            v[i] = copysignf((1.f - e) / (1.f + e), v[i]);
        }
    }
}

static void act_forward(int act, float *x, int n) {
    if (act == 1)
        for (int i = 0; i < n; i++) x[i] = x[i] > 0.f ? x[i] : 0.f;
    else if (act == 2)
        tanh_inplace(n, x);
}

static void act_backward(int act, const float *y, float *g, int n) {
    if (act == 1)
        for (int i = 0; i < n; i++) g[i] = y[i] > 0.f ? g[i] : 0.f;
    else if (act == 2)
        for (int i = 0; i < n; i++) g[i] *= 1.f - y[i] * y[i];
}

int mlp_width(const Mlp *m) {
    int w = 0;
    for (int l = 0; l <= m->L; l++) w = m->dims[l] > w ? m->dims[l] : w;
    return w;
}

/* h[0] = x; h[l + 1] = act(h[l] @ W_l + b_l), each h[l + 1] a [B, dims[l + 1]] buffer. */
/* y[B, out] = b + x[B, in] @ W for a layer with few inputs (observations, observation +
 * action): a loop over rows with the outputs vectorised beats a BLAS call at these sizes. */
static void narrow_layer(const Mlp *m, int l, int B, const float *x, float *y) {
    int in = m->dims[l], out = m->dims[l + 1];
    float wt[8 * 1024];
    const float *w = m->W[l];
    if (m->wt) { /* torch's [out, in] layout: transpose to [in, out] */
        for (int j = 0; j < out; j++)
            for (int k = 0; k < in; k++) wt[k * out + j] = w[(size_t)j * in + k];
        w = wt;
    }
    for (int i = 0; i < B; i++) {
        float *yi = y + (size_t)i * out;
        const float *xi = x + (size_t)i * in;
        memcpy(yi, m->b[l], sizeof(float) * out);
        for (int k = 0; k < in; k++) {
            float a = xi[k];
            const float *wk = w + (size_t)k * out;
            for (int j = 0; j < out; j++) yi[j] += a * wk[j];
        }
    }
}

void mlp_forward(const Mlp *m, int B, const float *x, float **h) {
    h[0] = (float *)x;
    for (int l = 0; l < m->L; l++) {
        int in = m->dims[l], out = m->dims[l + 1];
        float *y = h[l + 1];
        if (in <= 8 && out <= 1024) {
            narrow_layer(m, l, B, h[l], y);
        } else {
            for (int i = 0; i < B; i++) memcpy(y + (size_t)i * out, m->b[l], sizeof(float) * out);
            gemm(0, m->wt, B, out, in, 1.f, h[l], m->W[l], 1.f, y);
        }
        act_forward(l < m->L - 1 ? m->hidden_act : m->out_act, y, B * out);
    }
}

/* Backward from g = dLoss/d(output) ([B, dims[L]], overwritten; tmp is the same size as the
 * widest layer). With params, writes the parameter gradients (scaled by nothing, beta = 0
 * overwrites, 1 accumulates). With dx, writes dLoss/d(input) there. */
static void mlp_backward(const Mlp *m, int B, float **h, float *g, float *tmp, float *dx, int params, float beta) {
    for (int l = m->L - 1; l >= 0; l--) {
        int in = m->dims[l], out = m->dims[l + 1];
        act_backward(l < m->L - 1 ? m->hidden_act : m->out_act, h[l + 1], g, B * out);
        if (params) {
            if (m->wt)
                gemm(1, 0, out, in, B, 1.f, g, h[l], beta, m->gW[l]);
            else
                gemm(1, 0, in, out, B, 1.f, h[l], g, beta, m->gW[l]);
            float *gb = m->gb[l];
            if (beta == 0.f) memset(gb, 0, sizeof(float) * out);
            for (int i = 0; i < B; i++) {
                const float *row = g + (size_t)i * out;
                for (int j = 0; j < out; j++) gb[j] += row[j];
            }
        }
        if (l > 0 || dx) {
            float *dst = l > 0 ? tmp : dx;
            gemm(0, m->wt ? 0 : 1, B, in, out, 1.f, g, m->W[l], 0.f, dst);
            if (l > 0) {
                float *t = g;
                g = tmp;
                tmp = t;
            }
        }
    }
}

/* sum of x[i]^2 in 16 independent float lanes (vectorised), added up in double. */
static double sum_squares(const float *x, int n) {
    float acc[16] = {0.f};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += x[i + j] * x[i + j];
    double s = 0.0;
    for (int j = 0; j < 16; j++) s += acc[j];
    for (; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

static void adam_step(Adam *o, float lr) {
    for (int k = 0; k < o->n; k++) {
        float step = (*o->step[k] += 1.f);
        double bc1 = 1.0 - pow((double)o->b1, (double)step);
        double bc2 = 1.0 - pow((double)o->b2, (double)step);
        float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
        float *p = o->p[k], *g = o->g[k], *m = o->m[k], *v = o->v[k];
        float b1 = o->b1, b2 = o->b2, eps = o->eps, wd = o->wd;
        for (int i = 0; i < o->size[k]; i++) {
            float gi = g[i] + (wd != 0.f ? wd * p[i] : 0.f);
            m[i] = m[i] + (1.f - b1) * (gi - m[i]);
            v[i] = b2 * v[i] + (1.f - b2) * gi * gi;
            p[i] -= step_size * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
        }
    }
}

static void polyak(OffCtx *c) {
    float tau = c->tau;
    for (int k = 0; k < c->npolyak; k++) {
        float *t = c->polyak_t[k], *s = c->polyak_s[k];
        for (int i = 0; i < c->polyak_size[k]; i++) t[i] += tau * (s[i] - t[i]);
    }
}

/* ----- off-policy (TD3 and SAC) --------------------------------------------------------- */

static int off_width(const OffCtx *c) {
    int w = c->obs_dim + c->act_dim;
    int aw = mlp_width(&c->actor), cw = mlp_width(&c->critic[0]);
    w = aw > w ? aw : w;
    return cw > w ? cw : w;
}

/* Floats of workspace an OffCtx needs (for its max_batch). */
size_t rl_off_ws_size(const OffCtx *c) {
    size_t B = (size_t)c->max_batch, W = (size_t)off_width(c);
    size_t per_net = (size_t)(MAXL + 1) * B * W;
    return B * (2 * c->obs_dim + c->act_dim + 8) + 2 * B * (c->obs_dim + c->act_dim) + per_net * (MAXC + 1) +
           4 * B * W + 8 * B * c->act_dim + 64;
}

typedef struct {
    float *o, *a, *r, *d, *no, *x, *xn, *y, *qmin, *g, *tmp, *dx, *u, *at;
    float *h[MAXC + 1][MAXL + 1];
    int *argmin;
} OffWs;

static void off_layout(OffCtx *c, int B, OffWs *w) {
    float *p = c->ws;
    int od = c->obs_dim, ad = c->act_dim, W = off_width(c);
    w->o = p; p += (size_t)B * od;
    w->no = p; p += (size_t)B * od;
    w->a = p; p += (size_t)B * ad;
    w->r = p; p += B;
    w->d = p; p += B;
    w->y = p; p += B;
    w->qmin = p; p += B;
    w->argmin = (int *)p; p += B;
    w->x = p; p += (size_t)B * (od + ad);
    w->xn = p; p += (size_t)B * (od + ad);
    for (int n = 0; n <= MAXC; n++)
        for (int l = 1; l <= MAXL; l++) {
            w->h[n][l] = p;
            p += (size_t)B * W;
        }
    w->g = p; p += (size_t)B * W;
    w->tmp = p; p += (size_t)B * W;
    w->dx = p; p += (size_t)B * W;
    w->u = p; p += (size_t)B * ad * 2;
    w->at = p; p += (size_t)B * ad * 2;
}

static void gather(OffCtx *c, const int64_t *idx, int B, OffWs *w) {
    int od = c->obs_dim, ad = c->act_dim;
    for (int i = 0; i < B; i++) {
        int64_t j = idx[i];
        memcpy(w->o + (size_t)i * od, c->obs + j * od, sizeof(float) * od);
        memcpy(w->no + (size_t)i * od, c->next_obs + j * od, sizeof(float) * od);
        memcpy(w->a + (size_t)i * ad, c->act + j * ad, sizeof(float) * ad);
        w->r[i] = c->rew[j];
        w->d[i] = c->done[j];
    }
}

static void concat(int B, int od, int ad, const float *o, const float *a, float *x) {
    for (int i = 0; i < B; i++) {
        memcpy(x + (size_t)i * (od + ad), o + (size_t)i * od, sizeof(float) * od);
        memcpy(x + (size_t)i * (od + ad) + od, a + (size_t)i * ad, sizeof(float) * ad);
    }
}

/* min over critics of Q(x), per row; argmin when wanted. Uses cache slot n for critic n. */
static void critics_min(Mlp *critics, int nc, int B, const float *x, OffWs *w, float *out, int *argmin) {
    for (int n = 0; n < nc; n++) {
        mlp_forward(&critics[n], B, x, w->h[n]);
        const float *q = w->h[n][critics[n].L];
        for (int i = 0; i < B; i++)
            if (n == 0 || q[i] < out[i]) {
                out[i] = q[i];
                if (argmin) argmin[i] = n;
            }
    }
}

/* The critics' step on targets w->y: loss = sum over critics of mean (Q - y)^2.
 * Returns that loss divided by the number of critics. */
static float critic_step(OffCtx *c, int B, OffWs *w, float lr) {
    int od = c->obs_dim, ad = c->act_dim;
    concat(B, od, ad, w->o, w->a, w->x);
    double loss = 0.0;
    for (int n = 0; n < c->nc; n++) {
        Mlp *m = &c->critic[n];
        mlp_forward(m, B, w->x, w->h[0]);
        const float *q = w->h[0][m->L];
        for (int i = 0; i < B; i++) {
            float td = q[i] - w->y[i];
            loss += (double)td * td;
            w->g[i] = 2.f * td / (float)B;
        }
        mlp_backward(m, B, w->h[0], w->g, w->tmp, NULL, 1, 0.f);
    }
    adam_step(&c->critic_opt, lr);
    return (float)(loss / B / c->nc);
}

/* TD3: one critic step, and when do_actor an actor step plus Polyak averaging of every
 * target. noise is [B, act_dim] standard normal (the target policy smoothing draw).
 * out: [critic_loss, actor_loss]. */
void rl_td3_update(OffCtx *c, const int64_t *idx, int B, const float *noise, int do_actor, float critic_lr,
                   float actor_lr, float *out) {
    OffWs w;
    int od = c->obs_dim, ad = c->act_dim;
    off_layout(c, B, &w);
    gather(c, idx, B, &w);
    /* targets */
    mlp_forward(&c->actor_t, B, w.no, w.h[0]);
    float *na = w.h[0][c->actor_t.L];
    for (int i = 0; i < B * ad; i++) {
        float a = na[i];
        if (c->target_noise > 0.f) {
            float e = noise[i] * c->target_noise;
            e = e < -c->noise_clip ? -c->noise_clip : (e > c->noise_clip ? c->noise_clip : e);
            a += e;
            a = a < -1.f ? -1.f : (a > 1.f ? 1.f : a);
        }
        w.at[i] = a;
    }
    concat(B, od, ad, w.no, w.at, w.xn);
    critics_min(c->critic_t, c->nc, B, w.xn, &w, w.qmin, NULL);
    for (int i = 0; i < B; i++) w.y[i] = w.r[i] + c->gamma * (1.f - w.d[i]) * w.qmin[i];
    out[0] = critic_step(c, B, &w, critic_lr);
    if (!do_actor) return;
    /* actor: maximise Q_1(s, tanh(actor(s))) */
    Mlp *actor = &c->actor, *q1 = &c->critic[0];
    mlp_forward(actor, B, w.o, w.h[1]);
    const float *a = w.h[1][actor->L];
    concat(B, od, ad, w.o, a, w.x);
    mlp_forward(q1, B, w.x, w.h[0]);
    const float *q = w.h[0][q1->L];
    double loss = 0.0;
    for (int i = 0; i < B; i++) {
        loss -= q[i];
        w.g[i] = -1.f / (float)B;
    }
    mlp_backward(q1, B, w.h[0], w.g, w.tmp, w.dx, 0, 0.f);
    for (int i = 0; i < B; i++) memcpy(w.g + (size_t)i * ad, w.dx + (size_t)i * (od + ad) + od, sizeof(float) * ad);
    mlp_backward(actor, B, w.h[1], w.g, w.tmp, NULL, 1, 0.f);
    adam_step(&c->actor_opt, actor_lr);
    polyak(c);
    out[1] = (float)(loss / B);
}

static float softplus(float x) { return x > 20.f ? x : log1pf(expf(x)); }

/* Squashed Gaussian from actor outputs p ([B, 2 * ad]: mean, raw log-std) and normal draws e:
 * u = mean + std * e, a = tanh(u), logp = log N(u) - sum log(1 - tanh(u)^2). */
static void squashed_sample(OffCtx *c, int B, const float *p, const float *e, float *u, float *a, float *logp) {
    int ad = c->act_dim;
    const float half_log_2pi = 0.91893853320467274f, log2 = 0.69314718055994531f;
    for (int i = 0; i < B; i++) {
        double lp = 0.0;
        for (int j = 0; j < ad; j++) {
            float mean = p[(size_t)i * 2 * ad + j], ls = p[(size_t)i * 2 * ad + ad + j];
            ls = ls < c->log_std_min ? c->log_std_min : (ls > c->log_std_max ? c->log_std_max : ls);
            float ej = e[(size_t)i * ad + j];
            float uj = mean + expf(ls) * ej;
            u[(size_t)i * ad + j] = uj;
            a[(size_t)i * ad + j] = tanhf(uj);
            lp += -0.5f * ej * ej - ls - half_log_2pi;
            lp -= 2.f * (log2 - uj - softplus(-2.f * uj));
        }
        logp[i] = (float)lp;
    }
}

/* SAC: one critic step, one actor step, one temperature step (when autotune), Polyak of the
 * target critics. e_next and e_cur are [B, act_dim] standard normal draws for the next-state
 * and the current-state actions. out: [critic_loss, actor_loss, alpha, entropy]. */
void rl_sac_update(OffCtx *c, const int64_t *idx, int B, const float *e_next, const float *e_cur, int autotune,
                   float critic_lr, float actor_lr, float alpha_lr, float *out) {
    OffWs w;
    int od = c->obs_dim, ad = c->act_dim;
    off_layout(c, B, &w);
    gather(c, idx, B, &w);
    float alpha = expf(*c->log_alpha);
    /* targets */
    Mlp *actor = &c->actor;
    mlp_forward(actor, B, w.no, w.h[MAXC]);
    float *lp_next = w.y; /* y is overwritten only after use */
    squashed_sample(c, B, w.h[MAXC][actor->L], e_next, w.u, w.at, lp_next);
    concat(B, od, ad, w.no, w.at, w.xn);
    critics_min(c->critic_t, c->nc, B, w.xn, &w, w.qmin, NULL);
    for (int i = 0; i < B; i++)
        w.y[i] = w.r[i] + c->gamma * (1.f - w.d[i]) * (w.qmin[i] - alpha * lp_next[i]);
    out[0] = critic_step(c, B, &w, critic_lr);
    /* actor */
    mlp_forward(actor, B, w.o, w.h[MAXC]);
    const float *p = w.h[MAXC][actor->L];
    float *lp = w.y;
    squashed_sample(c, B, p, e_cur, w.u, w.at, lp);
    concat(B, od, ad, w.o, w.at, w.x);
    critics_min(c->critic, c->nc, B, w.x, &w, w.qmin, w.argmin);
    double actor_loss = 0.0, lp_sum = 0.0;
    for (int i = 0; i < B; i++) {
        actor_loss += alpha * lp[i] - w.qmin[i];
        lp_sum += lp[i];
    }
    /* dLoss/da through the critic that gave the minimum */
    float *da = w.u + (size_t)B * ad; /* [B, ad], after u (which is no longer needed) */
    memset(da, 0, sizeof(float) * B * ad);
    for (int n = 0; n < c->nc; n++) {
        int any = 0;
        for (int i = 0; i < B; i++) {
            w.g[i] = w.argmin[i] == n ? -1.f / (float)B : 0.f;
            any |= w.argmin[i] == n;
        }
        if (!any) continue;
        mlp_backward(&c->critic[n], B, w.h[n], w.g, w.tmp, w.dx, 0, 0.f);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < ad; j++) da[(size_t)i * ad + j] += w.dx[(size_t)i * (od + ad) + od + j];
    }
    float *gp = w.g; /* [B, 2 * ad] */
    for (int i = 0; i < B; i++)
        for (int j = 0; j < ad; j++) {
            float a = w.at[(size_t)i * ad + j];
            float du = da[(size_t)i * ad + j] * (1.f - a * a) + alpha / (float)B * 2.f * a;
            float raw = p[(size_t)i * 2 * ad + ad + j];
            float ls = raw < c->log_std_min ? c->log_std_min : (raw > c->log_std_max ? c->log_std_max : raw);
            float inside = (raw >= c->log_std_min && raw <= c->log_std_max) ? 1.f : 0.f;
            gp[(size_t)i * 2 * ad + j] = du;
            gp[(size_t)i * 2 * ad + ad + j] = (du * expf(ls) * e_cur[(size_t)i * ad + j] - alpha / (float)B) * inside;
        }
    mlp_backward(actor, B, w.h[MAXC], gp, w.tmp, NULL, 1, 0.f);
    if (autotune) {
        *c->alpha_opt.g[0] = (float)(-(lp_sum / B + c->target_entropy));
        adam_step(&c->alpha_opt, alpha_lr);
    }
    adam_step(&c->actor_opt, actor_lr);
    polyak(c);
    out[1] = (float)(actor_loss / B);
    out[2] = alpha;
    out[3] = (float)(-lp_sum / B);
}

/* ----- PPO --------------------------------------------------------------------------------- */

/* max(z) and sum(exp(z - max)) of K logits: log-sum-exp = mx + log(sum). */
static double exp_sum(const float *z, int K, float *mx) {
    float m = z[0];
    for (int k = 1; k < K; k++) m = z[k] > m ? z[k] : m;
    double s = 0.0;
    for (int k = 0; k < K; k++) s += exp((double)(z[k] - m));
    *mx = m;
    return s;
}

static int ppo_width(const PPOCtx *c) {
    int a = mlp_width(&c->pi), v = mlp_width(&c->vf);
    return a > v ? a : v;
}

size_t rl_ppo_ws_size(const PPOCtx *c) {
    size_t B = (size_t)c->max_batch, W = (size_t)ppo_width(c);
    return 2 * (size_t)(MAXL + 1) * B * W + 4 * B * W + B * (c->obs_dim + 3 * c->nout + 16) + 64;
}

/* One PPO epoch over the flattened rollout in the order perm ([n] indices), in minibatches of
 * B. old_* are the rollout's log-probs, values, advantages and returns ([n]); actions are
 * int64 (Discrete) or float [n, act_dim]. Stops early once the approximate KL exceeds 1.5 x
 * target_kl (when target_kl > 0). stats += [policy loss, value loss, entropy, approx KL,
 * clip fraction] summed over minibatches; returns the number of minibatches, negated when it
 * stopped early. */
int rl_ppo_epoch(PPOCtx *c, const float *obs, const void *actions, const float *old_logp, const float *old_v,
                 const float *adv_all, const float *ret_all, const int64_t *perm, int n, int B, float lr, float clip,
                 float target_kl, double *stats) {
    int od = c->obs_dim, ad = c->act_dim, K = c->nout, W = ppo_width(c);
    const float half_log_2pi = 0.91893853320467274f;
    float *p = c->ws;
    float *hp[MAXL + 1], *hv[MAXL + 1];
    for (int l = 1; l <= MAXL; l++) {
        hp[l] = p; p += (size_t)c->max_batch * W;
        hv[l] = p; p += (size_t)c->max_batch * W;
    }
    float *g = p; p += (size_t)c->max_batch * W;
    float *tmp = p; p += (size_t)c->max_batch * W;
    float *gv = p; p += (size_t)c->max_batch * W;
    float *o = p; p += (size_t)c->max_batch * od;
    float *lp = p; p += c->max_batch;
    float *adv = p; p += c->max_batch;
    float *gl = p; p += c->max_batch;
    float *ent = p; p += c->max_batch;
    float *logits = p; p += (size_t)c->max_batch * K;
    int batches = 0;
    for (int start = 0; start < n; start += B) {
        int b = n - start < B ? n - start : B;
        const int64_t *idx = perm + start;
        for (int i = 0; i < b; i++) memcpy(o + (size_t)i * od, obs + idx[i] * od, sizeof(float) * od);
        mlp_forward(&c->pi, b, o, hp);
        mlp_forward(&c->vf, b, o, hv);
        const float *out = hp[c->pi.L], *v = hv[c->vf.L];
        /* log-probs and entropies */
        double ent_sum = 0.0;
        if (c->discrete) {
            const int64_t *acts = (const int64_t *)actions;
            for (int i = 0; i < b; i++) {
                const float *z = out + (size_t)i * K;
                float mx;
                double s = exp_sum(z, K, &mx);
                float lse = mx + (float)log(s);
                float *ln = logits + (size_t)i * K;
                double h = 0.0;
                for (int k = 0; k < K; k++) {
                    ln[k] = z[k] - lse;
                    h -= exp((double)ln[k]) * ln[k];
                }
                ent[i] = (float)h;
                lp[i] = ln[acts[idx[i]]];
                ent_sum += h;
            }
        } else {
            const float *acts = (const float *)actions;
            double h = 0.0;
            for (int j = 0; j < ad; j++) h += 0.5 + half_log_2pi + c->log_std[j];
            for (int i = 0; i < b; i++) {
                double l = 0.0;
                for (int j = 0; j < ad; j++) {
                    float zz = (acts[idx[i] * ad + j] - out[(size_t)i * ad + j]) / expf(c->log_std[j]);
                    l += -0.5f * zz * zz - c->log_std[j] - half_log_2pi;
                }
                lp[i] = (float)l;
                ent[i] = (float)h;
            }
            ent_sum = h * b;
        }
        /* advantages */
        double mean = 0.0, var = 0.0;
        for (int i = 0; i < b; i++) mean += adv_all[idx[i]];
        mean /= b;
        for (int i = 0; i < b; i++) {
            double d = adv_all[idx[i]] - mean;
            var += d * d;
        }
        float scale = 1.f;
        if (c->norm_adv && b >= 2) scale = (float)(1.0 / (sqrt(var / (b - 1)) + 1e-8));
        for (int i = 0; i < b; i++) adv[i] = c->norm_adv ? (float)(adv_all[idx[i]] - mean) * scale : adv_all[idx[i]];
        /* losses and dLoss/dlogp, dLoss/dv */
        double pg = 0.0, vl = 0.0, kl = 0.0, cf = 0.0;
        for (int i = 0; i < b; i++) {
            float lr_ = lp[i] - old_logp[idx[i]];
            float r = expf(lr_);
            float rc = r < 1.f - clip ? 1.f - clip : (r > 1.f + clip ? 1.f + clip : r);
            float un = adv[i] * r, cl = adv[i] * rc;
            pg -= un < cl ? un : cl;
            gl[i] = un <= cl ? -adv[i] * r / (float)b : 0.f;
            kl += expm1f(lr_) - lr_;
            cf += fabsf(r - 1.f) > clip ? 1.0 : 0.0;
            float R = ret_all[idx[i]], dv;
            if (c->clip_vf > 0.f) {
                float ov = old_v[idx[i]], dvv = v[i] - ov;
                float inside = (dvv >= -c->clip_vf && dvv <= c->clip_vf) ? 1.f : 0.f;
                dvv = dvv < -c->clip_vf ? -c->clip_vf : (dvv > c->clip_vf ? c->clip_vf : dvv);
                float vc = ov + dvv, l1 = (v[i] - R) * (v[i] - R), l2 = (vc - R) * (vc - R);
                vl += l1 > l2 ? l1 : l2;
                float g1 = 2.f * (v[i] - R), g2 = 2.f * (vc - R) * inside;
                dv = l1 > l2 ? g1 : (l2 > l1 ? g2 : 0.5f * (g1 + g2));
            } else {
                vl += (v[i] - R) * (v[i] - R);
                dv = 2.f * (v[i] - R);
            }
            gv[i] = c->vf_coef * dv / (float)b;
        }
        /* dLoss/d(policy output) */
        if (c->discrete) {
            const int64_t *acts = (const int64_t *)actions;
            for (int i = 0; i < b; i++) {
                const float *ln = logits + (size_t)i * K;
                int64_t a = acts[idx[i]];
                for (int k = 0; k < K; k++) {
                    float pk = expf(ln[k]);
                    float dz = gl[i] * ((k == a ? 1.f : 0.f) - pk);
                    if (c->ent_coef != 0.f) dz += c->ent_coef / (float)b * pk * (ln[k] + ent[i]);
                    g[(size_t)i * K + k] = dz;
                }
            }
        } else {
            const float *acts = (const float *)actions;
            for (int j = 0; j < ad; j++) c->g_log_std[j] = -c->ent_coef;
            for (int i = 0; i < b; i++)
                for (int j = 0; j < ad; j++) {
                    float std = expf(c->log_std[j]);
                    float zz = (acts[idx[i] * ad + j] - out[(size_t)i * ad + j]) / std;
                    g[(size_t)i * ad + j] = gl[i] * zz / std;
                    c->g_log_std[j] += gl[i] * (zz * zz - 1.f);
                }
        }
        mlp_backward(&c->pi, b, hp, g, tmp, NULL, 1, 0.f);
        mlp_backward(&c->vf, b, hv, gv, tmp, NULL, 1, 0.f);
        /* global gradient-norm clip, then Adam */
        if (c->max_grad_norm > 0.f) {
            double sq = 0.0;
            for (int k = 0; k < c->opt.n; k++) sq += sum_squares(c->opt.g[k], c->opt.size[k]);
            float coef = c->max_grad_norm / ((float)sqrt(sq) + 1e-6f);
            if (coef < 1.f)
                for (int k = 0; k < c->opt.n; k++)
                    for (int i = 0; i < c->opt.size[k]; i++) c->opt.g[k][i] *= coef;
        }
        adam_step(&c->opt, lr);
        stats[0] += pg / b;
        stats[1] += vl / b;
        stats[2] += ent_sum / b;
        stats[3] += kl / b;
        stats[4] += cf / b;
        batches++;
        if (target_kl > 0.f && kl / b > 1.5 * target_kl) return -batches;
    }
    return batches;
}

/* Floats of workspace rl_ppo_act needs for N observations. */
size_t rl_ppo_act_ws_size(const PPOCtx *c, int N) {
    return 2 * (size_t)(MAXL + 1) * N * ppo_width(c) + 64;
}

/* Acting during a rollout: policy and value for N observations, one action per row drawn with
 * draws (uniform [N] for Discrete, standard normal [N, act_dim] for Box). Writes the action
 * (int64, or float [N, act_dim]), its log-probability and the value; for Box actions also the
 * env action clipped to [low, high]. */
void rl_ppo_act(PPOCtx *c, const float *obs, int N, const float *draws, float *ws, void *action, float *logp,
                float *value, float *env_action, const float *low, const float *high) {
    int ad = c->act_dim, K = c->nout, W = ppo_width(c);
    const float half_log_2pi = 0.91893853320467274f;
    float *hp[MAXL + 1], *hv[MAXL + 1];
    for (int l = 1; l <= MAXL; l++) {
        hp[l] = ws; ws += (size_t)N * W;
        hv[l] = ws; ws += (size_t)N * W;
    }
    mlp_forward(&c->pi, N, obs, hp);
    mlp_forward(&c->vf, N, obs, hv);
    const float *out = hp[c->pi.L], *v = hv[c->vf.L];
    for (int i = 0; i < N; i++) value[i] = v[i];
    if (c->discrete) {
        int64_t *acts = (int64_t *)action;
        for (int i = 0; i < N; i++) {
            const float *z = out + (size_t)i * K;
            float mx;
            double s = exp_sum(z, K, &mx);
            double u = draws[i] * s, cum = 0.0;
            int pick = K - 1;
            for (int k = 0; k < K; k++) {
                cum += exp((double)(z[k] - mx));
                if (u < cum) {
                    pick = k;
                    break;
                }
            }
            acts[i] = pick;
            logp[i] = z[pick] - mx - (float)log(s);
        }
    } else {
        float *acts = (float *)action;
        for (int i = 0; i < N; i++) {
            double l = 0.0;
            for (int j = 0; j < ad; j++) {
                float e = draws[(size_t)i * ad + j];
                float a = out[(size_t)i * ad + j] + expf(c->log_std[j]) * e;
                acts[(size_t)i * ad + j] = a;
                env_action[(size_t)i * ad + j] = a < low[j] ? low[j] : (a > high[j] ? high[j] : a);
                l += -0.5f * e * e - c->log_std[j] - half_log_2pi;
            }
            logp[i] = (float)l;
        }
    }
}
