# Run by `cmake --install` (install(CODE) in src/install.cmake), when the prefix is known: the
# files that name it are written into the build tree's install-stage/, which the next rules
# install. The job scripts are pointed at the prefix: Slurm runs a copy of a batch script, so
# it cannot find its helpers beside itself; each sources the installed jobs/common.sh, and
# jobs/paths.sh runs the installed programs.
set(stage "${DTRAIN_BINARY_DIR}/install-stage")
file(REMOVE_RECURSE "${stage}")
set(jobs "${CMAKE_INSTALL_PREFIX}/share/dtrain/jobs")
foreach(name ${DTRAIN_JOB_FILES})
  file(READ "${DTRAIN_SOURCE_DIR}/jobs/${name}" text)
  string(REPLACE [[. "${DTRAIN_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}/jobs/common.sh"]]
                 ". \"${jobs}/common.sh\"" text "${text}")
  string(REPLACE [[DTRAIN_PREFIX=""]] "DTRAIN_PREFIX=\"${CMAKE_INSTALL_PREFIX}\"" text "${text}")
  file(WRITE "${stage}/jobs/${name}" "${text}")
endforeach()
set(DTRAIN_PREFIX "${CMAKE_INSTALL_PREFIX}")
configure_file("${DTRAIN_SOURCE_DIR}/src/dtrain.modulefile.in" "${stage}/modulefile" @ONLY)
