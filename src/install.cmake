# `cmake --install build --prefix P`: the programs in P/bin, man pages in P/share/man/man1,
# libdtrain and the public headers with a CMake package (find_package(dtrain CONFIG) ->
# dtrain::dtrain), the job scripts in P/share/dtrain/jobs, and a module file in
# P/share/dtrain/modulefiles/dtrain/<version> (`module use P/share/dtrain/modulefiles`).
include(CMakePackageConfigHelpers)
install(TARGETS ${DTRAIN_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS dtrain dtrain_proto EXPORT dtrainTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/dtrain DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(package_dir ${CMAKE_INSTALL_LIBDIR}/cmake/dtrain)
install(EXPORT dtrainTargets NAMESPACE dtrain:: DESTINATION ${package_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/dtrainConfig.cmake.in
  ${CMAKE_BINARY_DIR}/dtrainConfig.cmake INSTALL_DESTINATION ${package_dir})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/dtrainConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/dtrainConfig.cmake ${CMAKE_BINARY_DIR}/dtrainConfigVersion.cmake
        DESTINATION ${package_dir})
install(FILES ${CMAKE_CURRENT_LIST_DIR}/dependencies.cmake DESTINATION ${package_dir}
        RENAME dtrainDependencies.cmake)

# Man pages from the programs' own --help and --version (help2man), so they cannot drift.
find_program(HELP2MAN help2man)
if(HELP2MAN AND NOT DTRAIN_SANITIZE)
  set(mnist_train_name "train neural networks across MPI ranks (parameter servers or allreduce)")
  set(mnist_data_setup_name "convert the MNIST IDX files into sharded HDF5, TFRecord or CSV data")
  set(compute_bench_name "measure dtrain's training step and inference in images per second")
  set(data_bench_name "measure how fast dtrain's readers deliver batches from HDF5, TFRecord or IDX")
  set(rma_bench_name "measure one-sided RMA, allreduce and dtrain's exchange paths over MPI")
  foreach(app ${DTRAIN_PROGRAMS})
    add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${app}.1
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section 1 --source dtrain
              --name ${${app}_name} --output ${CMAKE_BINARY_DIR}/man/${app}.1 $<TARGET_FILE:${app}>
      DEPENDS ${app} COMMENT "man page of ${app}" VERBATIM)
    list(APPEND DTRAIN_MAN_PAGES ${CMAKE_BINARY_DIR}/man/${app}.1)
  endforeach()
  add_custom_target(dtrain_man ALL DEPENDS ${DTRAIN_MAN_PAGES})
  install(FILES ${DTRAIN_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
elseif(NOT DTRAIN_SANITIZE)
  message(WARNING "help2man not found (Debian: help2man): no man pages will be installed")
endif()

# The files that name the prefix are written when it is known (src/install_stage.cmake).
# bench_transport.sbatch stays behind: it runs a benchmark script of the checkout.
set(DTRAIN_JOB_FILES common.sh paths.sh resilient.sh transport.sh mpirun_train.sh
    data_setup.sbatch inference.sbatch train_async.sbatch train_sync.sbatch)
install(CODE "
  set(DTRAIN_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(DTRAIN_BINARY_DIR \"${CMAKE_BINARY_DIR}\")
  set(DTRAIN_VERSION \"${PROJECT_VERSION}\")
  set(DTRAIN_JOB_FILES \"${DTRAIN_JOB_FILES}\")
  include(\"${CMAKE_CURRENT_LIST_DIR}/install_stage.cmake\")")
list(TRANSFORM DTRAIN_JOB_FILES PREPEND ${CMAKE_BINARY_DIR}/install-stage/jobs/)
install(PROGRAMS ${DTRAIN_JOB_FILES} DESTINATION ${CMAKE_INSTALL_DATADIR}/dtrain/jobs)
install(FILES ${CMAKE_BINARY_DIR}/install-stage/modulefile RENAME ${PROJECT_VERSION}
        DESTINATION ${CMAKE_INSTALL_DATADIR}/dtrain/modulefiles/dtrain)
