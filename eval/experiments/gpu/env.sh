# Environment for Tandem on the lent GPU machine (device tool): EGL, the carried wheels and the G1 model.
# What travels is prepared on the laptop side (docs/experiments.md, "On the GPU machine").
export REPO=${REPO:-$PWD}
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
export PYTHONPATH=/tmp/site:$REPO MENAGERIE_ROOT=/tmp/assets MUJOCO_GL=egl OMP_NUM_THREADS=1
export TANDEM_SENTENCE_VECTORS=$REPO/.assets/vectors.json PYTHONUNBUFFERED=1 TERM=dumb COLUMNS=120
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
