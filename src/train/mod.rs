//! Training: the losses ([`loss`]) and their gradient on a batch ([`gradient`]), L1/L2 penalties
//! on the weights ([`penalty`]), the optimisers with PyTorch's semantics ([`sgd`], [`adam`],
//! dispatched by [`optimizer`]), learning-rate schedules ([`schedule`]), the trainer's options
//! ([`options`]) and a loop over seeded minibatches ([`trainer`]) whose parameter snapshots feed
//! the trajectory projections of [`crate::project::trajectory`].

pub mod adam;
pub mod gradient;
pub mod loss;
pub mod optimizer;
pub mod options;
pub mod penalty;
pub mod schedule;
pub mod sgd;
pub mod trainer;
