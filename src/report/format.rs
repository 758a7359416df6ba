//! Number formats that several report sections share, kept below them all so
//! that the verdict and the subsample table read the same way without either
//! importing the other.

/// A difference of two rates in percentage points, signed ("+4.2", "−0.3", "0.0"),
/// with a true minus sign because it is read in prose and tables alike.
pub fn points(x: f64) -> String {
    let v = 100.0 * x;
    // −0.0 reads oddly; a true zero prints as 0.0.
    let v = if v.abs() < 0.05 { 0.0 } else { v };
    format!(
        "{}{:.1}",
        if v > 0.0 {
            "+"
        } else if v < 0.0 {
            "−"
        } else {
            ""
        },
        v.abs()
    )
}
