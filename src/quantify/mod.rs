//! Quantification: how many texts of a corpus carry each emotion, estimated
//! from a model's outputs and corrected for what validation says about its
//! errors, rather than counted from its labels.

pub mod estimators;
