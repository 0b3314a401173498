// The sweep's results file in one include: its records, the single writer, readers and the
// `trm-sweep status` report. Layout and crash safety: results_writer.h and h5_layout.h.
#pragma once

#include "storage/results_reader.h"
#include "storage/results_types.h"
#include "storage/results_writer.h"
#include "storage/status_report.h"
#include "storage/storage_error.h"
#include "storage/trial_status.h"
