# Reference values from R/metafor for the bayes-prrt frequentist meta-analysis code.
#
# Run from the repository root:
#     Rscript tests/reference/metafor_reference.R
# Writes tests/reference/metafor_reference.json (see tests/reference/README.md).

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

# Output path: the first command-line argument, or the committed reference file.
ARGS <- commandArgs(trailingOnly = TRUE)
OUT_FILE <- if (length(ARGS) >= 1) ARGS[1] else "tests/reference/metafor_reference.json"

# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------

# Control lists passed to rma() per estimator (none for FE and DL, which are
# closed form). PM solves the generalised Q equation with uniroot(); its
# tolerance is control$tol (default .Machine$double.eps^0.25).
CONTROL <- list(
  FE   = NULL,
  DL   = NULL,
  REML = list(threshold = 1e-12, maxiter = 10000),
  PM   = list(tol = 1e-12, maxiter = 10000),
  ML   = list(threshold = 1e-12, maxiter = 10000)
)
# Control for the Q-profile confidence intervals (confint.rma.uni, uniroot).
CONFINT_CONTROL <- list(tol = 1e-12, maxiter = 10000)

# rma() fits per measure: key -> estimator and test.
FIT_SPECS <- list(
  FE        = list(method = "FE",   test = "z"),
  DL        = list(method = "DL",   test = "z"),
  REML      = list(method = "REML", test = "z"),
  PM        = list(method = "PM",   test = "z"),
  ML        = list(method = "ML",   test = "z"),
  DL_knha   = list(method = "DL",   test = "knha"),
  REML_knha = list(method = "REML", test = "knha")
)

# rma.glmm() fits for binary cases. In metafor 3.8-1 nAGQ is a direct
# argument of rma.glmm() (it is not read from control).
GLMM_SPECS <- list(GLMM_nAGQ7 = 7, GLMM_nAGQ25 = 25)

BINARY_MEASURES <- c("PFT", "PLO", "PR")
EXTRA_CASES <- c("dcr_table2", "orr_table2")
EXTRA_MEASURES <- c("PFT", "PLO")
EXTRA_METHODS <- c("DL", "REML")

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

# Numeric array that stays an array in JSON even with length 1.
arr <- function(x) I(as.numeric(x))

# Scalar number, or NA (-> null) when absent.
num <- function(x) if (is.null(x) || length(x) == 0) NA_real_ else as.numeric(x[1])

# Evaluate expr (which returns a named list); on error return
# list(error = message). Warnings raised by metafor are kept in `warnings`.
safely <- function(expr) {
  warns <- character(0)
  res <- withCallingHandlers(
    tryCatch(expr, error = function(e) list(error = conditionMessage(e))),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  if (length(warns) > 0) res$warnings <- I(unique(warns))
  res
}

# Same, but return NULL on error (used for optional quantities).
or_null <- function(expr) tryCatch(expr, error = function(e) NULL)

sort_c <- function(x) sort(unique(x), method = "radix")  # locale independent

control_for <- function(method) {
  ctrl <- CONTROL[[method]]
  if (is.null(ctrl)) list() else ctrl
}

# do.call() passes evaluated arguments, so rma()'s non-standard evaluation of
# subset/mods/data is not affected by calling it from inside a wrapper.
fit_rma <- function(yi, vi, method, test = "z", ...) {
  do.call(rma, c(list(yi = yi, vi = vi, method = method, test = test,
                      control = control_for(method)), list(...)))
}

# Back-transformation for a measure: list(f = function or NULL, targs).
# `ni` is the vector of sample sizes belonging to the pooled studies.
back_transform <- function(measure, case_name, ni) {
  switch(measure,
    PFT = list(f = transf.ipft.hm, targs = list(ni = ni)),
    PLO = list(f = transf.ilogit, targs = NULL),
    PR  = list(f = NULL, targs = NULL),
    GEN = if (grepl("_logmedian$", case_name)) list(f = exp, targs = NULL)
          else list(f = NULL, targs = NULL))
}

apply_bt <- function(x, bt) {
  if (is.null(bt$f)) return(x)
  if (is.null(bt$targs)) bt$f(x) else bt$f(x, targs = bt$targs)
}

predict_bt <- function(fit, bt) {
  if (is.null(bt$f)) return(predict(fit))
  if (is.null(bt$targs)) predict(fit, transf = bt$f)
  else predict(fit, transf = bt$f, targs = bt$targs)
}

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

read_repo_csv <- function(path) {
  read.csv(path, stringsAsFactors = FALSE, na.strings = "")
}

binary_case_from_csv <- function(outcomes, outcome) {
  rows <- outcomes[outcomes$outcome == outcome &
                   outcomes$value_source == "meta_table2", ]
  list(kind = "binary", study = rows$study,
       events = as.numeric(rows$events), n = as.numeric(rows$n))
}

binary_case <- function(study, events, n) {
  list(kind = "binary", study = study,
       events = as.numeric(events), n = as.numeric(n))
}

# Standard error from a 95% CI (literal 1.96); one-sided when ci_high is NA.
se_from_ci <- function(centre, low, high) {
  ifelse(is.na(high), (centre - low) / 1.96, (high - low) / (2 * 1.96))
}

generic_case_from_csv <- function(outcomes, outcome, log_scale) {
  rows <- outcomes[outcomes$outcome == outcome &
                   outcomes$value_source == "primary" &
                   !is.na(outcomes$median) & !is.na(outcomes$ci_low), ]
  f <- if (log_scale) log else identity
  yi <- f(rows$median)
  sei <- se_from_ci(yi, f(rows$ci_low), f(rows$ci_high))
  list(kind = "generic", study = rows$study, yi = yi, vi = sei^2)
}

build_cases <- function(outcomes) {
  list(
    dcr_table2    = binary_case_from_csv(outcomes, "DCR"),
    orr_table2    = binary_case_from_csv(outcomes, "ORR"),
    edge_k2       = binary_case(c("a", "b"), c(20, 45), c(30, 50)),
    edge_zero     = binary_case(c("a", "b", "c", "d"), c(0, 10, 15, 3),
                                c(25, 40, 35, 20)),
    edge_all      = binary_case(c("a", "b", "c"), c(20, 12, 18), c(20, 30, 25)),
    edge_huge     = binary_case(c("a", "b", "c", "d"), c(4000, 12, 7, 30),
                                c(5000, 20, 15, 40)),
    pfs_logmedian = generic_case_from_csv(outcomes, "PFS", log_scale = TRUE),
    os_logmedian  = generic_case_from_csv(outcomes, "OS",  log_scale = TRUE),
    pfs_median    = generic_case_from_csv(outcomes, "PFS", log_scale = FALSE),
    os_median     = generic_case_from_csv(outcomes, "OS",  log_scale = FALSE)
  )
}

# Effect sizes of one case for one measure, as a data frame with the
# study-level covariates joined on (site, grade, g3_share). A covariate that is empty
# or "unknown" is missing (NA), not a level, as in bayes_prrt.design.known_covariates.
as_missing <- function(x) ifelse(is.na(x) | tolower(trimws(x)) %in% c("", "unknown"), NA, x)

effect_data <- function(case, measure, studies) {
  if (measure == "GEN") {
    dat <- data.frame(study = case$study, yi = case$yi, vi = case$vi)
  } else {
    es <- escalc(measure = measure, xi = case$events, ni = case$n)
    dat <- data.frame(study = case$study, yi = as.numeric(es$yi),
                      vi = as.numeric(es$vi), events = case$events, n = case$n)
  }
  idx <- match(dat$study, studies$study)
  dat$site <- as_missing(studies$site[idx])
  dat$grade <- as_missing(studies$grade[idx])
  dat$g3_share <- studies$g3_share[idx]
  dat
}

# ---------------------------------------------------------------------------
# Summaries of fitted models
# ---------------------------------------------------------------------------

# Q-profile CI for tau^2 and I^2. confint() searches tau^2 in
# [0, max(100, 10 * tau2)] (metafor default) and silently returns that upper
# limit when the CI extends beyond it; tau2_ci_high_bounded flags this.
qprofile_ci <- function(fit) {
  ci <- or_null(confint(fit, control = CONFINT_CONTROL)$random)
  if (is.null(ci)) {
    return(list(tau2_ci_low = NA, tau2_ci_high = NA,
                I2_ci_low = NA, I2_ci_high = NA, tau2_ci_high_bounded = NA))
  }
  search_max <- max(100, 10 * fit$tau2)
  list(tau2_ci_low = num(ci["tau^2", "ci.lb"]),
       tau2_ci_high = num(ci["tau^2", "ci.ub"]),
       I2_ci_low = num(ci["I^2(%)", "ci.lb"]),
       I2_ci_high = num(ci["I^2(%)", "ci.ub"]),
       tau2_ci_high_bounded = isTRUE(ci["tau^2", "ci.ub"] >= search_max))
}

test_stat <- function(fit) {
  if (fit$test == "z") list(test = "z", zval = num(fit$zval))
  else list(test = fit$test, tval = num(fit$zval), df = num(fit$ddf))
}

summarise_fit <- function(fit, bt) {
  pr <- predict(fit)
  pb <- predict_bt(fit, bt)
  out <- c(
    list(estimate = num(fit$b), se = num(fit$se)),
    test_stat(fit),
    list(pval = num(fit$pval),
         ci_low = num(fit$ci.lb), ci_high = num(fit$ci.ub),
         pi_low = num(pr$pi.lb), pi_high = num(pr$pi.ub),
         tau2 = num(fit$tau2), se_tau2 = num(fit$se.tau2),
         I2 = num(fit$I2), H2 = num(fit$H2),
         Q = num(fit$QE), p_Q = num(fit$QEp), k = fit$k,
         weights = arr(weights(fit))))
  if (fit$method != "FE") out <- c(out, qprofile_ci(fit))
  c(out, list(estimate_bt = num(pb$pred),
              ci_low_bt = num(pb$ci.lb), ci_high_bt = num(pb$ci.ub),
              pi_low_bt = num(pb$pi.lb), pi_high_bt = num(pb$pi.ub)))
}

run_fits <- function(dat, bt) {
  lapply(FIT_SPECS, function(spec) safely({
    fit <- fit_rma(dat$yi, dat$vi, spec$method, spec$test)
    summarise_fit(fit, bt)
  }))
}

summarise_glmm <- function(fit) {
  pb <- predict(fit, transf = transf.ilogit)
  pr <- predict(fit)
  list(estimate = num(fit$b), se = num(fit$se),
       zval = num(fit$zval), pval = num(fit$pval),
       ci_low = num(fit$ci.lb), ci_high = num(fit$ci.ub),
       pi_low = num(pr$pi.lb), pi_high = num(pr$pi.ub),
       tau2 = num(fit$tau2), I2 = num(fit$I2), H2 = num(fit$H2),
       QE_Wld = num(fit$QE.Wld), QEp_Wld = num(fit$QEp.Wld),
       QE_LRT = num(fit$QE.LRT), QEp_LRT = num(fit$QEp.LRT),
       logLik = num(logLik(fit)), k = fit$k,
       estimate_bt = num(pb$pred),
       ci_low_bt = num(pb$ci.lb), ci_high_bt = num(pb$ci.ub),
       pi_low_bt = num(pb$pi.lb), pi_high_bt = num(pb$pi.ub))
}

run_glmm <- function(case) {
  lapply(GLMM_SPECS, function(nagq) safely({
    fit <- rma.glmm(measure = "PLO", xi = case$events, ni = case$n, nAGQ = nagq)
    summarise_glmm(fit)
  }))
}

# ---------------------------------------------------------------------------
# Extra analyses: leave-one-out, subgroups, meta-regression
# ---------------------------------------------------------------------------

run_leave1out <- function(dat, method, measure, case_name) {
  l1o <- leave1out(fit_rma(dat$yi, dat$vi, method))
  bt_rows <- lapply(seq_len(nrow(dat)), function(i) {
    bt <- back_transform(measure, case_name, dat$n[-i])
    apply_bt(c(l1o$estimate[i], l1o$ci.lb[i], l1o$ci.ub[i]), bt)
  })
  bt_col <- function(j) arr(vapply(bt_rows, `[`, numeric(1), j))
  list(estimate = arr(l1o$estimate), se = arr(l1o$se),
       ci_low = arr(l1o$ci.lb), ci_high = arr(l1o$ci.ub),
       tau2 = arr(l1o$tau2), I2 = arr(l1o$I2), Q = arr(l1o$Q),
       estimate_bt = bt_col(1), ci_low_bt = bt_col(2), ci_high_bt = bt_col(3))
}

summarise_level <- function(dat, keep, method, measure, case_name) {
  fit <- fit_rma(dat$yi, dat$vi, method, subset = keep)
  bt <- back_transform(measure, case_name, dat$n[keep])
  est_bt <- apply_bt(c(fit$b, fit$ci.lb, fit$ci.ub), bt)
  list(estimate = num(fit$b), se = num(fit$se),
       ci_low = num(fit$ci.lb), ci_high = num(fit$ci.ub),
       tau2 = num(fit$tau2), I2 = num(fit$I2), Q = num(fit$QE), k = fit$k,
       estimate_bt = num(est_bt[1]), ci_low_bt = num(est_bt[2]),
       ci_high_bt = num(est_bt[3]))
}

run_subgroup <- function(dat, var, method, measure, case_name) {
  dat <- dat[!is.na(dat[[var]]), ]
  levels <- sort_c(dat[[var]])
  fits <- lapply(levels, function(lv) {
    safely(summarise_level(dat, dat[[var]] == lv, method, measure, case_name))
  })
  names(fits) <- levels
  between <- safely({
    est <- vapply(fits, function(f) f$estimate, numeric(1))
    se <- vapply(fits, function(f) f$se, numeric(1))
    fe <- rma(yi = est, sei = se, method = "FE")
    list(Q = num(fe$QE), df = fe$k - fe$p, p = num(fe$QEp))
  })
  list(levels = fits, between = between)
}

summarise_metareg <- function(fit) {
  list(coef_names = I(rownames(fit$b)), b = arr(fit$b), se = arr(fit$se),
       ci_low = arr(fit$ci.lb), ci_high = arr(fit$ci.ub),
       test = fit$test, QM = num(fit$QM), QMdf = arr(fit$QMdf),
       QMp = num(fit$QMp), QE = num(fit$QE), QEp = num(fit$QEp),
       tau2 = num(fit$tau2), I2 = num(fit$I2), H2 = num(fit$H2), k = fit$k)
}

# Categorical moderator: levels sorted (C locale), so the alphabetically
# first level is the reference, as with R's default factor() coding.
fit_factor_metareg <- function(dat, var, method, test = "z") {
  dat <- dat[!is.na(dat[[var]]), ]
  dat[[var]] <- factor(dat[[var]], levels = sort_c(dat[[var]]))
  fit_rma(dat$yi, dat$vi, method, test,
          mods = as.formula(sprintf("~ factor(%s)", var)), data = dat)
}

# Numeric moderator, using only the studies where it is known.
fit_numeric_metareg <- function(dat, var, method) {
  sub <- dat[!is.na(dat[[var]]), ]
  fit_rma(sub$yi, sub$vi, method,
          mods = as.formula(paste("~", var)), data = sub)
}

run_metareg <- function(dat, method) {
  one <- function(expr) safely(summarise_metareg(expr))
  out <- list(site  = one(fit_factor_metareg(dat, "site", method)),
              grade = one(fit_factor_metareg(dat, "grade", method)))
  if (method == "REML") {
    out$site_knha  <- one(fit_factor_metareg(dat, "site", method, "knha"))
    out$grade_knha <- one(fit_factor_metareg(dat, "grade", method, "knha"))
    out$g3_share   <- one(fit_numeric_metareg(dat, "g3_share", method))
  }
  out
}

run_extra <- function(dat, measure, case_name) {
  out <- lapply(EXTRA_METHODS, function(method) list(
    leave1out = safely(run_leave1out(dat, method, measure, case_name)),
    subgroups = list(
      site  = run_subgroup(dat, "site", method, measure, case_name),
      grade = run_subgroup(dat, "grade", method, measure, case_name)),
    metareg = run_metareg(dat, method)))
  names(out) <- EXTRA_METHODS
  out
}

# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

run_measure <- function(case, case_name, measure, studies) {
  dat <- effect_data(case, measure, studies)
  ni <- if (case$kind == "binary") case$n else NULL
  res <- list(yi = arr(dat$yi), vi = arr(dat$vi),
              fits = run_fits(dat, back_transform(measure, case_name, ni)))
  if (case_name %in% EXTRA_CASES && measure %in% EXTRA_MEASURES) {
    res$extra <- run_extra(dat, measure, case_name)
  }
  res
}

run_case <- function(case, case_name, studies) {
  measures <- if (case$kind == "binary") BINARY_MEASURES else "GEN"
  res <- list(kind = case$kind, study = I(case$study))
  if (case$kind == "binary") {
    res$events <- arr(case$events)
    res$n <- arr(case$n)
  } else {
    res$yi <- arr(case$yi)
    res$vi <- arr(case$vi)
  }
  res$measures <- setNames(
    lapply(measures, function(m) run_measure(case, case_name, m, studies)),
    measures)
  if (case$kind == "binary") res$glmm <- run_glmm(case)
  res
}

meta_info <- function() {
  list(
    R = R.version$version.string,
    metafor = as.character(packageVersion("metafor")),
    lme4 = as.character(packageVersion("lme4")),
    jsonlite = as.character(packageVersion("jsonlite")),
    generated = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"),
    control = list(
      rma = lapply(CONTROL, function(x) if (is.null(x)) setNames(list(), character(0)) else x),
      confint = CONFINT_CONTROL,
      escalc = "metafor defaults (PLO: add=1/2, to='only0')",
      glmm = list(
        GLMM_nAGQ7 = "rma.glmm(measure='PLO', xi=events, ni=n, nAGQ=7)",
        GLMM_nAGQ25 = "rma.glmm(measure='PLO', xi=events, ni=n, nAGQ=25)"),
      extra = "leave1out/subgroup/meta-regression fits use the same rma control as their method",
      generic_se = "sei = (ci_high - ci_low)/(2*1.96), or (centre - ci_low)/1.96 if ci_high missing; on log scale for *_logmedian",
      json_precision = "jsonlite digits=NA (15 significant digits)"))
}

main <- function() {
  outcomes <- read_repo_csv("data/outcomes.csv")
  studies <- read_repo_csv("data/studies.csv")
  cases <- build_cases(outcomes)
  results <- lapply(names(cases), function(nm) run_case(cases[[nm]], nm, studies))
  names(results) <- names(cases)
  out <- list(meta = meta_info(), cases = results)
  writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null",
                    na = "null", pretty = TRUE), OUT_FILE)
  message("wrote ", OUT_FILE)
}

main()
