# dtrain's dependencies, all Debian packages (README.md says why each is there). Read twice:
# by dtrain's own build (top CMakeLists.txt: find_package, REQUIRED) and, installed beside the
# CMake package, by find_package(dtrain) (dtrainConfig.cmake: find_dependency), because
# libdtrain is static and a program linking it needs the libraries it links privately too.
# dtrain_dependency must be defined by whoever includes this file.
dtrain_dependency(MPI COMPONENTS C)
dtrain_dependency(dnnl CONFIG)
dtrain_dependency(OpenMP COMPONENTS CXX)
dtrain_dependency(Boost 1.74 COMPONENTS program_options)
dtrain_dependency(ZLIB)
dtrain_dependency(nlohmann_json 3)
dtrain_dependency(Protobuf)
dtrain_dependency(ONNX CONFIG)  # libonnx-dev: the ONNX schema (onnx_proto) and checker
# Parallel HDF5 (libhdf5-openmpi-dev): HDF5_PREFER_PARALLEL picks the MPI build.
set(HDF5_PREFER_PARALLEL ON)
dtrain_dependency(HDF5 COMPONENTS C)
