//! `predictions.csv`: for each test example, its id, its true label(s) and
//! every method's answer (first seed), to trace any number back to texts. A
//! multi-label answer's labels are joined by `,` within its field.

use super::{Studied, Study, Writer};
use anyhow::Result;
use std::path::Path;

pub struct PredictionsCsv;

impl Writer for PredictionsCsv {
    fn write(&self, study: &Study, dir: &Path) -> Result<Vec<String>> {
        write(study, dir)
    }
}

/// Writes `predictions.csv` for a study of either task.
pub(super) fn write<L: Studied>(study: &Study<L>, dir: &Path) -> Result<Vec<String>> {
    let names = |label: &L| {
        label
            .classes()
            .iter()
            .map(|&c| study.classes[c].as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    crate::atomic::write_with(&dir.join("predictions.csv"), |out| {
        let mut w = csv::Writer::from_writer(out);
        let mut header = vec!["id".to_string(), "true".to_string()];
        header.extend(study.methods.iter().map(|m| m.name.to_string()));
        w.write_record(&header)?;
        for (i, id) in study.test_ids.iter().enumerate() {
            let mut row = vec![id.clone(), names(&study.test_labels[i])];
            row.extend(
                study
                    .methods
                    .iter()
                    .map(|m| names(&m.shown().test_predictions[i])),
            );
            w.write_record(&row)?;
        }
        w.flush()?;
        Ok(())
    })?;
    Ok(vec!["predictions.csv".into()])
}
