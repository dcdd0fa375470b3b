# DTRAIN_NATIVE_FEATURES: the CPU features -march=native turns on here, as
# __builtin_cpu_supports names them (src/util/isa_level.cpp checks them at start); empty for
# the portable build. Read from the compiler's own predefined macros.
set(DTRAIN_NATIVE_FEATURES "")
if(DTRAIN_NATIVE)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -march=native -dM -E -x c++ /dev/null
                  OUTPUT_VARIABLE native_macros ERROR_QUIET)
  foreach(pair SSE4_2:sse4.2 AVX:avx AVX2:avx2 FMA:fma BMI:bmi BMI2:bmi2 F16C:f16c LZCNT:lzcnt
          MOVBE:movbe AVX512F:avx512f AVX512BW:avx512bw AVX512CD:avx512cd AVX512DQ:avx512dq
          AVX512VL:avx512vl AVX512VNNI:avx512vnni AVX512BF16:avx512bf16 AVX512VBMI:avx512vbmi
          AVX512IFMA:avx512ifma)
    string(REPLACE ":" ";" pair ${pair})
    list(GET pair 0 macro)
    list(GET pair 1 feature)
    if(native_macros MATCHES "#define __${macro}__ ")
      string(APPEND DTRAIN_NATIVE_FEATURES " ${feature}")
    endif()
  endforeach()
  string(STRIP "${DTRAIN_NATIVE_FEATURES}" DTRAIN_NATIVE_FEATURES)
  message(STATUS "dtrain: -march=native here uses ${DTRAIN_NATIVE_FEATURES}")
endif()
