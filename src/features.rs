//! Embeddings with their labels, on the device where heads are trained. This is
//! the one type every method sees; it refuses what would silently poison a head
//! (NaN or infinite values, labels out of range).

use crate::embed::Matrix;
use crate::input_error;
use anyhow::Result;
use tch::{Device, Kind, Tensor};

pub struct Features {
    /// `[n, d]` f32.
    pub x: Tensor,
    /// `[n]` i64, the same labels as `labels`.
    pub y: Tensor,
    pub labels: Vec<usize>,
    pub n_classes: usize,
}

impl Features {
    /// `what` names the data in errors ("training split", a file name …).
    pub fn new(
        what: &str,
        m: &Matrix,
        labels: &[usize],
        n_classes: usize,
        device: Device,
    ) -> Result<Features> {
        if m.rows != labels.len() {
            return Err(input_error!(
                "{what}: {} vectors but {} labels",
                m.rows,
                labels.len()
            ));
        }
        if let Some(i) = m.data.iter().position(|v| !v.is_finite()) {
            return Err(input_error!(
                "{what}: row {} has a non-finite feature ({}); refusing to train or predict on it",
                i / m.cols.max(1),
                m.data[i]
            ));
        }
        if let Some(&y) = labels.iter().find(|&&y| y >= n_classes) {
            return Err(input_error!(
                "{what}: label {y} out of range for {n_classes} classes"
            ));
        }
        let y: Vec<i64> = labels.iter().map(|&v| v as i64).collect();
        Ok(Features {
            x: m.to_tensor().to(device),
            y: Tensor::from_slice(&y).to(device),
            labels: labels.to_vec(),
            n_classes,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The same tensors (not copied) for use on another thread: a `Tensor` may
    /// move between threads but not be shared by reference.
    pub fn shallow_clone(&self) -> Features {
        Features {
            x: self.x.shallow_clone(),
            y: self.y.shallow_clone(),
            labels: self.labels.clone(),
            n_classes: self.n_classes,
        }
    }

    /// The examples at `rows`, in that order (a copy on the same device).
    pub fn rows(&self, rows: &[usize]) -> Features {
        let idx: Vec<i64> = rows.iter().map(|&i| i as i64).collect();
        let idx = Tensor::from_slice(&idx).to(self.device());
        Features {
            x: self.x.index_select(0, &idx),
            y: self.y.index_select(0, &idx),
            labels: rows.iter().map(|&i| self.labels[i]).collect(),
            n_classes: self.n_classes,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.x.size()[1] as usize
    }

    pub fn device(&self) -> Device {
        self.x.device()
    }

    /// Examples per class.
    pub fn counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.n_classes];
        for &y in &self.labels {
            c[y] += 1;
        }
        c
    }

    /// log of the class priors n_j / N, as an f32 tensor on the device.
    pub fn log_prior(&self) -> Tensor {
        let n = self.len() as f64;
        let v: Vec<f32> = self
            .counts()
            .iter()
            .map(|&c| (c as f64 / n).ln() as f32)
            .collect();
        Tensor::from_slice(&v)
            .to(self.device())
            .to_kind(Kind::Float)
    }
}
