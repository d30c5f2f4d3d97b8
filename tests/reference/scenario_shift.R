# Reference for bayes_prrt.sensitivity.scenarios.scenario_shift_table: DCR and ORR pooled by
# metafor (PFT, DerSimonian-Laird, back-transformed with transf.ipft.hm) under the 'published'
# figures (Table 2) and the 'corrected' figures, the corrected set chosen here independently:
# per study of the meta-analysis the row of value source corrected, else primary, else meta_table2,
# leaving out the rows data/exclusions.csv names.
# Run from the repository root: Rscript tests/reference/scenario_shift.R [out.json]
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/reference/scenario_shift.json"
rd <- function(f) read.csv(file.path("data", f), stringsAsFactors = FALSE, na.strings = "")
outcomes <- rd("outcomes.csv"); studies <- rd("studies.csv"); excl <- rd("exclusions.csv")
in_meta <- studies$study[tolower(as.character(studies$in_meta)) == "true"]
key <- function(d) paste(d$study, d$outcome, d$value_source)
order <- c("corrected", "primary", "meta_table2")

pool_pft <- function(d) {
  es <- escalc("PFT", xi = d$events, ni = d$n)
  fit <- rma(yi, vi, data = es, method = "DL")
  p <- predict(fit, transf = transf.ipft.hm, targs = list(ni = d$n))
  list(study = d$study, events = d$events, n = d$n, k = fit$k, estimate = p$pred,
       ci_low = p$ci.lb, ci_high = p$ci.ub, tau2 = fit$tau2)
}

cases <- list()
for (o in c("DCR", "ORR")) {
  rows <- outcomes[outcomes$outcome == o, ]
  published <- rows[rows$value_source == "meta_table2", ]
  cand <- rows[rows$study %in% in_meta & rows$value_source %in% order & !(key(rows) %in% key(excl)), ]
  cand <- cand[order(match(cand$study, unique(cand$study)), match(cand$value_source, order)), ]
  corrected <- cand[!duplicated(cand$study), ]
  cases[[o]] <- list(published = pool_pft(published), corrected = pool_pft(corrected))
}
meta <- list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
             generated = format(Sys.time(), "%Y-%m-%d %H:%M:%S UTC", tz = "UTC"))
writeLines(toJSON(list(meta = meta, cases = cases), auto_unbox = TRUE, digits = NA, pretty = TRUE), out)
