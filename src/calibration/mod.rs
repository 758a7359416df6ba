//! Calibration maps: fitted on validation logits after a head is trained, so that
//! a probability of 0.8 means right about eight times in ten. Corpus-level shares
//! estimated from probabilities (quantification) need this more than labels do.
//! A map never changes which class a single-label head ranks first.

pub mod platt;
pub mod temperature;
