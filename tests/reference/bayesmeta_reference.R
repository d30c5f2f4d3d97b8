# Reference posteriors from R/bayesmeta's bmr() (Roever & Friede 2022, Comput Methods Programs
# Biomed 217:106720; 2023 vignette "Using bayesmeta for meta-regression") for the exact
# log-median meta-regression engine, bayes_prrt/bayes/exact.py.
#
# Run from the repository root:
#     Rscript tests/reference/bayesmeta_reference.R
# Writes tests/reference/bayesmeta_reference.json. bmr() integrates tau numerically and
# approximates beta | y by a discrete mixture over tau (DIRECT); delta and epsilon are set 10x
# and 100x tighter than its defaults (0.01, 1e-4) so that the reference is more accurate.

suppressPackageStartupMessages({
  library(bayesmeta)
  library(jsonlite)
})

ARGS <- commandArgs(trailingOnly = TRUE)
OUT_FILE <- if (length(ARGS) >= 1) ARGS[1] else "tests/reference/bayesmeta_reference.json"
P <- c(0.025, 0.5, 0.975)
DELTA <- 0.001
EPSILON <- 1e-6

# Case 1: the embedded PFS data by grade (log medians and SEs as bayes_prrt computes them; the
# test checks they are the same numbers). Default priors for a median outcome: mu ~ N(3, 1.5),
# beta ~ N(0, 1), tau ~ half-normal(0.5). Levels: G2-3 (reference), unknown.
pfs <- list(
  y = c(3.126760535960395, 3.1354942159291497, 3.044522437723423, 2.681021528714291),
  se = c(0.08239156627097595, 0.0544831888515457, 0.2216595127456207, 0.07898396666276439),
  X = cbind(1, c(0, 1, 1, 1)),
  prior_mean = c(3, 0), prior_sd = c(1.5, 1), tau_scale = 0.5,
  levels = list(`G2-3` = c(1, 0), unknown = c(1, 1)))

# Case 2: 20 simulated studies, a 3-level factor (A reference, B, C) and a numeric covariate.
set.seed(20261201)
k <- 20
level <- rep(c("A", "B", "C"), length.out = k)
share <- round(runif(k, 0, 0.6), 3)
se <- round(runif(k, 0.08, 0.3), 3)
X <- cbind(1, level == "B", level == "C", share)
y <- round(as.vector(X %*% c(3, -0.3, -0.6, -0.5) + rnorm(k, 0, 0.25) + rnorm(k, 0, se)), 4)
sim <- list(y = y, se = se, X = unname(X * 1), prior_mean = c(3, 0, 0, 0), prior_sd = c(1.5, 1, 1, 1),
            tau_scale = 0.5, levels = list(A = c(1, 0, 0, 0.3), B = c(1, 1, 0, 0.3), C = c(1, 0, 1, 0.3)))

fit_case <- function(case) {
  fit <- bmr(y = case$y, sigma = case$se, X = case$X,
             tau.prior = function(t) dhalfnormal(t, scale = case$tau_scale),
             beta.prior.mean = case$prior_mean, beta.prior.sd = case$prior_sd,
             delta = DELTA, epsilon = EPSILON)
  p <- ncol(case$X)
  out <- case
  out$X <- lapply(seq_len(nrow(case$X)), function(i) case$X[i, ])
  out$tau <- fit$qposterior(tau.p = P)
  out$beta <- lapply(seq_len(p), function(j) fit$qposterior(beta.p = P, which.beta = j))
  out$value <- lapply(case$levels, function(x) as.vector(fit$qpredict(P, x = matrix(x, nrow = 1), mean = TRUE)))
  out$new <- lapply(case$levels, function(x) as.vector(fit$qpredict(P, x = matrix(x, nrow = 1), mean = FALSE)))
  out
}

result <- list(
  meta = list(bayesmeta = as.character(packageVersion("bayesmeta")), R = R.version.string,
              delta = DELTA, epsilon = EPSILON, probabilities = P),
  cases = list(pfs_grade = fit_case(pfs), simulated = fit_case(sim)))
writeLines(toJSON(result, digits = NA, auto_unbox = TRUE, pretty = TRUE), OUT_FILE)
