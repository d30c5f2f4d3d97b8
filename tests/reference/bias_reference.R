# Reference values from R/metafor for small-study effects and cumulative meta-analysis
# (regtest, ranktest, trimfill, funnel, cumul).
#
# Run from the repository root:
#     Rscript tests/reference/bias_reference.R
# Writes tests/reference/bias_reference.json (see tests/reference/README.md).

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

ARGS <- commandArgs(trailingOnly = TRUE)
OUT_FILE <- if (length(ARGS) >= 1) ARGS[1] else "tests/reference/bias_reference.json"

# Control of the iterative tau2 estimators (none for FE and DL, which are closed form).
CONTROL <- list(FE = list(), DL = list(), REML = list(threshold = 1e-12, maxiter = 10000))
METHODS <- names(CONTROL)

arr <- function(x) I(as.numeric(x))
num <- function(x) if (is.null(x) || length(x) == 0) NA_real_ else as.numeric(x[1])

# ---------------------------------------------------------------------------
# Cases: yi, vi (and n for proportions), the order column of cumul(), the
# back-transform of the measure
# ---------------------------------------------------------------------------

read_repo_csv <- function(path) read.csv(path, stringsAsFactors = FALSE, na.strings = "")

# bayes_prrt's "published" policy: Table 2 figures where the outcome has any,
# else the primary figures of the studies in the meta-analysis.
published_rows <- function(outcomes, studies, outcome) {
  rows <- outcomes[outcomes$outcome == outcome, ]
  table2 <- rows[rows$value_source == "meta_table2", ]
  if (nrow(table2) > 0) return(table2)
  in_meta <- tolower(as.character(studies$in_meta[match(rows$study, studies$study)])) == "true"
  rows[rows$value_source == "primary" & in_meta, ]
}

binary_case <- function(study, events, n, order, measures) {
  list(study = study, events = as.numeric(events), n = as.numeric(n),
       order = as.numeric(order), measures = measures)
}

embedded_binary <- function(outcomes, studies, outcome) {
  rows <- published_rows(outcomes, studies, outcome)
  binary_case(rows$study, rows$events, rows$n, studies$year[match(rows$study, studies$study)],
              c("PFT", "PLO"))
}

# log median with sei = (log hi - log lo) / (2 * 1.96), or (log m - log lo) / 1.96
embedded_logmedian <- function(outcomes, studies, outcome) {
  rows <- published_rows(outcomes, studies, outcome)
  rows <- rows[!is.na(rows$median) & !is.na(rows$ci_low), ]
  yi <- log(rows$median)
  sei <- ifelse(is.na(rows$ci_high), (yi - log(rows$ci_low)) / 1.96,
                (log(rows$ci_high) - log(rows$ci_low)) / (2 * 1.96))
  list(study = rows$study, yi = yi, vi = sei^2,
       order = as.numeric(studies$year[match(rows$study, studies$study)]), measures = "LOGMEDIAN")
}

generic_case <- function(study, yi, vi, order, measure) {
  list(study = as.character(study), yi = as.numeric(yi), vi = as.numeric(vi),
       order = as.numeric(order), measures = measure)
}

build_cases <- function() {
  outcomes <- read_repo_csv("data/outcomes.csv")
  studies <- read_repo_csv("data/studies.csv")
  bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
  list(
    dcr_published = embedded_binary(outcomes, studies, "DCR"),
    orr_published = embedded_binary(outcomes, studies, "ORR"),
    pfs_published = embedded_logmedian(outcomes, studies, "PFS"),
    pritz1997 = binary_case(as.character(dat.pritz1997$study), dat.pritz1997$xi, dat.pritz1997$ni,
                            dat.pritz1997$ni, c("PFT", "PLO")),
    bcg_rr = generic_case(dat.bcg$trial, bcg$yi, bcg$vi, dat.bcg$year, "RR"),
    hackshaw1998 = generic_case(dat.hackshaw1998$study, dat.hackshaw1998$yi, dat.hackshaw1998$vi,
                                dat.hackshaw1998$year, "OR")
  )
}

effects_of <- function(case, measure) {
  if (is.null(case$events)) return(list(yi = case$yi, vi = case$vi))
  es <- escalc(measure = measure, xi = case$events, ni = case$n)
  list(yi = as.numeric(es$yi), vi = as.numeric(es$vi))
}

# to the outcome's scale; PFT at the harmonic mean of the n of the studies pooled
back <- function(x, measure, ni) {
  switch(measure,
    PFT = transf.ipft.hm(x, targs = list(ni = ni)),
    PLO = transf.ilogit(x),
    LOGMEDIAN = exp(x),
    RR = exp(x),
    OR = exp(x))
}

# ---------------------------------------------------------------------------
# Analyses
# ---------------------------------------------------------------------------

run_regtest <- function(fit, measure, ni) {
  rt <- regtest(fit)  # model = "rma", predictor = "sei"; the fit's method, test and control
  list(zval = num(rt$zval), pval = num(rt$pval), slope = num(coef(rt$fit)[2]),
       est = num(rt$est), ci_low = num(rt$ci.lb), ci_high = num(rt$ci.ub), tau2 = num(rt$fit$tau2),
       est_bt = num(back(rt$est, measure, ni)), ci_low_bt = num(back(rt$ci.lb, measure, ni)),
       ci_high_bt = num(back(rt$ci.ub, measure, ni)))
}

run_trimfill <- function(fit, method, measure, ni, side = NULL) {
  args <- list(fit, control = CONTROL[[method]])
  if (!is.null(side)) args$side <- side
  tf <- do.call(trimfill, args)
  filled <- tf$fill
  ni_fill <- if (is.null(ni)) NULL else tf$ni
  list(side = tf$side, k0 = tf$k0, se_k0 = num(tf$se.k0),
       estimate = num(tf$beta), se = num(tf$se), ci_low = num(tf$ci.lb), ci_high = num(tf$ci.ub),
       tau2 = num(tf$tau2), k = tf$k,
       yi_filled = arr(tf$yi[filled]), vi_filled = arr(tf$vi[filled]),
       estimate_bt = num(back(tf$beta, measure, ni_fill)),
       ci_low_bt = num(back(tf$ci.lb, measure, ni_fill)),
       ci_high_bt = num(back(tf$ci.ub, measure, ni_fill)))
}

run_funnel <- function(tf) {
  pdf(NULL)
  on.exit(dev.off())
  f <- funnel(tf)
  list(x = arr(f$x), y = arr(f$y), fill = I(as.logical(f$fill)), refline = num(tf$beta))
}

run_cumul <- function(fit, case, measure) {
  cm <- cumul(fit, order = case$order)
  idx <- order(case$order)  # the order cumul() uses (stable: ties keep the input's order)
  ni <- case$n
  bt <- lapply(seq_along(idx), function(i) {
    nis <- if (is.null(ni)) NULL else ni[idx[seq_len(i)]]
    back(c(cm$estimate[i], cm$ci.lb[i], cm$ci.ub[i]), measure, nis)
  })
  col <- function(j) arr(vapply(bt, `[`, numeric(1), j))
  out <- list(order = arr(idx), study = I(case$study[idx]),
              estimate = arr(cm$estimate), se = arr(cm$se), ci_low = arr(cm$ci.lb), ci_high = arr(cm$ci.ub),
              Q = arr(cm$Q), I2 = arr(cm$I2),
              estimate_bt = col(1), ci_low_bt = col(2), ci_high_bt = col(3))
  if (!is.null(cm$tau2)) out$tau2 <- arr(cm$tau2)
  out
}

run_method <- function(case, eff, measure, method) {
  # ni (NULL for generic effects) travels with the fit into trimfill's filled studies
  fit <- do.call(rma, c(list(yi = eff$yi, vi = eff$vi, method = method, control = CONTROL[[method]]),
                        if (is.null(case$n)) NULL else list(ni = case$n)))
  ni <- case$n
  tf <- run_trimfill(fit, method, measure, ni)
  opposite <- if (tf$side == "left") "right" else "left"
  tf_default <- do.call(trimfill, list(fit, control = CONTROL[[method]]))
  list(regtest = run_regtest(fit, measure, ni),
       trimfill = tf,
       trimfill_opposite = run_trimfill(fit, method, measure, ni, side = opposite),
       funnel = run_funnel(tf_default),
       cumul = run_cumul(fit, case, measure))
}

run_measure <- function(case, measure) {
  eff <- effects_of(case, measure)
  rk <- ranktest(eff$yi, eff$vi)
  list(yi = arr(eff$yi), vi = arr(eff$vi),
       ranktest = list(tau = num(rk$tau), pval = num(rk$pval)),
       methods = setNames(lapply(METHODS, function(m) run_method(case, eff, measure, m)), METHODS))
}

run_case <- function(case) {
  out <- list(study = I(case$study), order = arr(case$order))
  if (!is.null(case$events)) {
    out$events <- arr(case$events)
    out$n <- arr(case$n)
  } else {
    out$yi <- arr(case$yi)
    out$vi <- arr(case$vi)
  }
  out$measures <- setNames(lapply(case$measures, function(m) run_measure(case, m)), case$measures)
  out
}

main <- function() {
  cases <- build_cases()
  results <- lapply(cases, run_case)
  meta <- list(
    R = R.version$version.string,
    metafor = as.character(packageVersion("metafor")),
    jsonlite = as.character(packageVersion("jsonlite")),
    generated = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"),
    control = lapply(CONTROL, function(x) if (length(x) == 0) setNames(list(), character(0)) else x),
    calls = list(
      regtest = "regtest(rma(yi, vi, method, control)): model='rma', predictor='sei'",
      ranktest = "ranktest(yi, vi): exact p unless there are ties",
      trimfill = "trimfill(fit, control = <same control>) and with side forced to the other side",
      funnel = "funnel(trimfill(fit)) in pdf(NULL)",
      cumul = "cumul(fit, order = <order column>); back-transform per step with that step's n",
      pft_back_transform = "transf.ipft.hm at the harmonic mean of the n of the studies in the fit"),
    json_precision = "jsonlite digits=NA (15 significant digits)")
  writeLines(toJSON(list(meta = meta, cases = results), digits = NA, auto_unbox = TRUE, null = "null",
                    na = "null", pretty = TRUE), OUT_FILE)
  message("wrote ", OUT_FILE)
}

main()
