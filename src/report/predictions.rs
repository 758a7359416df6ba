//! `predictions.csv`: for each test example, its id, its true class and every
//! method's prediction (first seed), to trace any number back to texts.

use super::{Study, Writer};
use anyhow::Result;
use std::path::Path;

pub struct PredictionsCsv;

impl Writer for PredictionsCsv {
    fn write(&self, study: &Study, dir: &Path) -> Result<Vec<String>> {
        crate::atomic::write_with(&dir.join("predictions.csv"), |out| {
            let mut w = csv::Writer::from_writer(out);
            let mut header = vec!["id".to_string(), "true".to_string()];
            header.extend(study.methods.iter().map(|m| m.name.to_string()));
            w.write_record(&header)?;
            for (i, id) in study.test_ids.iter().enumerate() {
                let mut row = vec![id.clone(), study.classes[study.test_labels[i]].clone()];
                row.extend(
                    study
                        .methods
                        .iter()
                        .map(|m| study.classes[m.shown().test_predictions[i]].clone()),
                );
                w.write_record(&row)?;
            }
            w.flush()?;
            Ok(())
        })?;
        Ok(vec!["predictions.csv".into()])
    }
}
