"""Cohort analytics on VCF Zarr stores: QC, PCA, relatedness, GWAS (Dask, chunked)."""
