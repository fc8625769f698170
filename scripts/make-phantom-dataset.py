#!/usr/bin/env python3
"""Write a small synthetic diffusion-MRI BIDS study for driving the real csttool.

    build/csttool-venv/bin/python scripts/make-phantom-dataset.py OUT_DIR

Deterministic (fixed seed, fixed UIDs): the same call writes the same bytes, except DICOM
file meta that pydicom stamps (implementation version) if pydicom changes. Needs numpy and
nibabel (NIfTI) and pydicom (DICOM); scripts/csttool-venv.sh installs all three.

Layout written under OUT_DIR:
    dataset_description.json, participants.tsv
    sub-01/ses-01/dwi/sub-01_ses-01_dwi.{nii.gz,bval,bvec,json}
    sub-01/ses-02/dwi/sub-01_ses-02_dwi.{nii.gz,bval,bvec,json}
    sub-02/dwi/sub-02_dwi.{nii.gz,bval,bvec,json}
    sub-03/dicom/IM_VVVV_SSSS.dcm   one classic MR series, one file per slice per volume,
                                    b-value and direction in (0018,9087) / (0018,9089)

The image: 40 x 40 x 36 voxels of 2 mm (RAS, origin at the centre), an ellipsoidal "brain"
of isotropic tissue (MD 0.8e-3 mm^2/s) holding two cylinders of anisotropic tissue (FA ~0.75)
that run superior-inferior left and right of the midline, like two corticospinal tracts.
4 b=0 volumes then 12 directions at b=1000, Rician noise at SNR ~40 on b=0.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

SEED = 20240611
SHAPE = (40, 40, 36)  # csttool's SyN registration needs >= 36 voxels a side (9 at 1/4 scale)
VOXEL_MM = 2.0
N_B0 = 4
BVAL = 1000.0
S0 = 1000.0
SNR = 40.0
# 12 well-spread unit directions (icosahedron vertices, one of each antipodal pair is kept,
# then both halves of the 6 ± pairs), a fixed list so the files never change.
_PHI = (1 + 5 ** 0.5) / 2
_ICO = [(0, 1, _PHI), (0, -1, _PHI), (1, _PHI, 0), (-1, _PHI, 0), (_PHI, 0, 1), (-_PHI, 0, 1)]
DIRECTIONS = np.array(
    [v for v in _ICO] + [
        (1, 1, 1), (1, -1, 1), (-1, 1, 1), (-1, -1, 1), (1, 0, 0.2), (0, 1, -0.2),
    ],
    dtype=float,
)
DIRECTIONS /= np.linalg.norm(DIRECTIONS, axis=1, keepdims=True)

# Fixed DICOM identifiers (a made-up root under the 2.25 UUID-derived arc).
UID_ROOT = "2.25.31415926535897932384626433832795"
DICOM_SUBJECT = "sub-03"


def affine() -> np.ndarray:
    a = np.diag([VOXEL_MM, VOXEL_MM, VOXEL_MM, 1.0])
    a[:3, 3] = -(np.array(SHAPE) - 1) / 2 * VOXEL_MM
    return a


def tissue(variant: int):
    """Per-voxel tensor eigenvalues and principal direction, and the brain mask."""
    i, j, k = np.meshgrid(*(np.arange(n, dtype=float) for n in SHAPE), indexing="ij")
    c = (np.array(SHAPE) - 1) / 2
    r = c - 1.5
    brain = ((i - c[0]) / r[0]) ** 2 + ((j - c[1]) / r[1]) ** 2 + ((k - c[2]) / r[2]) ** 2 <= 1.0
    # Two S-I cylinders, radius 3 voxels, at x = centre -/+ 7 voxels; the variant shifts the
    # right one by a voxel so subjects differ a little.
    left = ((i - (c[0] - 7)) ** 2 + (j - c[1]) ** 2 <= 3.0 ** 2) & brain
    right = ((i - (c[0] + 7 + variant % 2)) ** 2 + (j - c[1]) ** 2 <= 3.0 ** 2) & brain
    fibre = left | right
    l1 = np.where(fibre, 1.7e-3, 0.8e-3)
    l2 = np.where(fibre, 0.3e-3, 0.8e-3)
    # A slight curve: the fibre direction tilts towards the midline with height.
    tilt = np.where(fibre, 0.15 * (k - c[2]) / c[2], 0.0) * np.where(left, 1.0, -1.0)
    e1 = np.stack([tilt, np.zeros_like(tilt), np.ones_like(tilt)], axis=-1)
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    return l1, l2, e1, brain


def dwi_signal(variant: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    l1, l2, e1, brain = tissue(variant)
    bvals = np.array([0.0] * N_B0 + [BVAL] * len(DIRECTIONS))
    bvecs = np.vstack([np.zeros((N_B0, 3)), DIRECTIONS])
    # D = l2 I + (l1 - l2) e1 e1^T, so g^T D g = l2 + (l1 - l2) (g . e1)^2
    g_dot_e = np.einsum("xyzc,vc->xyzv", e1, bvecs)
    adc = l2[..., None] + (l1 - l2)[..., None] * g_dot_e ** 2
    signal = S0 * np.exp(-bvals[None, None, None, :] * adc)
    signal *= brain[..., None]
    sigma = S0 / SNR
    noisy = np.sqrt((signal + rng.normal(0, sigma, signal.shape)) ** 2 + rng.normal(0, sigma, signal.shape) ** 2)
    return noisy.astype(np.float32), bvals, bvecs


def sidecar() -> dict:
    return {
        "Modality": "MR",
        "MagneticFieldStrength": 3,
        "Manufacturer": "Phantom",
        "EchoTime": 0.089,
        "RepetitionTime": 8.0,
        "PhaseEncodingDirection": "j-",
        "TotalReadoutTime": 0.05,
        "SeriesDescription": "DTI_phantom",
    }


def write_nifti(dwi_dir: Path, stem: str, variant: int, rng: np.random.Generator) -> None:
    import nibabel as nib

    data, bvals, bvecs = dwi_signal(variant, rng)
    dwi_dir.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(np.round(data).astype(np.int16), affine())
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_qform(affine(), code=1)
    img.header.set_sform(affine(), code=1)
    nib.save(img, dwi_dir / f"{stem}.nii.gz")
    (dwi_dir / f"{stem}.bval").write_text(" ".join(f"{b:g}" for b in bvals) + "\n")
    (dwi_dir / f"{stem}.bvec").write_text(
        "\n".join(" ".join(f"{v:.6f}" for v in bvecs[:, axis]) for axis in range(3)) + "\n"
    )
    (dwi_dir / f"{stem}.json").write_text(json.dumps(sidecar(), indent=2) + "\n")


def write_dicom(series_dir: Path, variant: int, rng: np.random.Generator) -> None:
    """One classic MR image per slice per volume, as a scanner exports a DWI series."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

    data, bvals, bvecs = dwi_signal(variant, rng)
    pixels = np.round(data).astype(np.uint16)
    series_dir.mkdir(parents=True, exist_ok=True)
    nx, ny, nz, nv = pixels.shape
    study_uid = f"{UID_ROOT}.1"
    series_uid = f"{UID_ROOT}.2"
    frame_uid = f"{UID_ROOT}.3"
    # DICOM patient coordinates are LPS, the NIfTI affine RAS. Rows and columns run along
    # +x/+y in LPS (ImageOrientationPatient [1,0,0, 0,1,0]), so pixel (col c, row r) of slice z is
    # voxel (nx-1-c, ny-1-r, z), and the first pixel sits at LPS (-39, -39, -35 + 2z) mm.
    corner = affine()[:3, 3]
    for v in range(nv):
        for z in range(nz):
            instance = v * nz + z + 1
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = MRImageStorage
            meta.MediaStorageSOPInstanceUID = f"{UID_ROOT}.4.{instance}"
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            meta.ImplementationClassUID = f"{UID_ROOT}.9"
            ds = FileDataset(str(series_dir / "x.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
            ds.SOPClassUID = MRImageStorage
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.StudyInstanceUID = study_uid
            ds.SeriesInstanceUID = series_uid
            ds.FrameOfReferenceUID = frame_uid
            ds.Modality = "MR"
            ds.Manufacturer = "Phantom"
            ds.ManufacturerModelName = "cst-batch phantom"
            ds.MagneticFieldStrength = 3
            ds.PatientName = "Phantom^Three"
            ds.PatientID = "PHANTOM03"
            ds.PatientSex = "O"
            ds.PatientAge = "040Y"
            ds.StudyDate = "20240611"
            ds.StudyTime = "120000"
            ds.SeriesDate = "20240611"
            ds.SeriesTime = "120000"
            ds.AcquisitionTime = f"{120000 + v:06d}"
            ds.SeriesDescription = "DTI_phantom"
            ds.ProtocolName = "DTI_phantom"
            ds.SeriesNumber = 5
            ds.AcquisitionNumber = v + 1
            ds.InstanceNumber = instance
            ds.ImageType = ["ORIGINAL", "PRIMARY", "DIFFUSION", "NONE"]
            ds.ScanningSequence = "EP"
            ds.SequenceVariant = "SK"
            ds.MRAcquisitionType = "2D"
            ds.EchoTime = 89
            ds.RepetitionTime = 8000
            ds.InPlanePhaseEncodingDirection = "COL"
            ds.SliceThickness = VOXEL_MM
            ds.SpacingBetweenSlices = VOXEL_MM
            ds.PixelSpacing = [VOXEL_MM, VOXEL_MM]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.PatientPosition = "HFS"
            z_mm = float(corner[2] + z * VOXEL_MM)
            ds.ImagePositionPatient = [float(corner[0]), float(corner[1]), z_mm]
            ds.SliceLocation = z_mm
            ds.DiffusionBValue = float(bvals[v])
            if bvals[v] > 0:
                ds.DiffusionDirectionality = "DIRECTIONAL"
                # bvecs are in the image (RAS voxel) frame; LPS flips x and y.
                g = bvecs[v] * np.array([-1, -1, 1])
                ds.DiffusionGradientOrientation = [float(x) for x in g]
            else:
                ds.DiffusionDirectionality = "NONE"
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.Rows = ny
            ds.Columns = nx
            ds.BitsAllocated = 16
            ds.BitsStored = 16
            ds.HighBit = 15
            ds.PixelRepresentation = 0
            plane = pixels[::-1, ::-1, z, v].T  # (rows=y, cols=x)
            ds.PixelData = np.ascontiguousarray(plane).tobytes()
            ds.save_as(series_dir / f"IM_{v + 1:04d}_{z + 1:04d}.dcm", enforce_file_format=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    (out / "dataset_description.json").write_text(
        json.dumps({"Name": "cst-batch diffusion phantom", "BIDSVersion": "1.9.0", "DatasetType": "raw"}, indent=2)
        + "\n"
    )
    (out / "participants.tsv").write_text("participant_id\nsub-01\nsub-02\nsub-03\n")
    write_nifti(out / "sub-01" / "ses-01" / "dwi", "sub-01_ses-01_dwi", 0, rng)
    write_nifti(out / "sub-01" / "ses-02" / "dwi", "sub-01_ses-02_dwi", 1, rng)
    write_nifti(out / "sub-02" / "dwi", "sub-02_dwi", 1, rng)
    write_dicom(out / DICOM_SUBJECT / "dicom", 0, rng)
    print(f"phantom written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
